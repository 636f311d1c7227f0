"""Save and load whole fitted models without pickle (skops + safetensors).

Needs the ``online`` extra for skops and the ``safe`` extra for safetensors
(both in ``pip install "skeeg2bold[online]"``).
"""

from ._model_file import (
    ModelVersionWarning,
    UntrustedTypesError,
    load_model,
    save_model,
    trusted_types,
)

__all__ = [
    "ModelVersionWarning",
    "UntrustedTypesError",
    "load_model",
    "save_model",
    "trusted_types",
]
