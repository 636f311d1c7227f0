"""One file for a whole fitted model, loadable without unpickling code.

The file is a zip archive:

- ``manifest.json``: format version, the versions of the packages that
  wrote it, user metadata (target names, TR, ...) and an index of networks;
- ``estimator.skops``: the estimator, written with :mod:`skops.io`, with every
  network replaced by a reference holding its class and parameters;
- ``network-<i>.safetensors``, ``network-<i>.json``, ``network-<i>.history.json``:
  each fitted network's weights, fitted attributes
  (:meth:`EEG2BoldRegressor.save_params`) and training history.

skops rebuilds only types it trusts; it refuses the others unless the
caller names them, so a file cannot smuggle code in as pickles can.
"""

import copy
import io
import json
import warnings
import zipfile
from importlib import metadata as _metadata
from pathlib import Path

from sklearn.base import BaseEstimator

__all__ = [
    "ModelVersionWarning",
    "UntrustedTypesError",
    "load_model",
    "save_model",
    "trusted_types",
]

FORMAT = "skeeg2bold-model"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.skops"
#: Packages whose versions are recorded and compared on loading.
_PACKAGES = ("skeeg2bold", "scikit-learn", "numpy", "scipy", "skops", "torch", "skorch")
#: Types trusted beyond skops' defaults: by module prefix (this package, and
#: scikit-learn's estimators and splitters, whose state is plain data) and by
#: name (what a network's parameters hold by default).
_TRUSTED_PREFIXES = ("skeeg2bold.", "sklearn.", "torch.optim.")
_TRUSTED_NAMES = frozenset(
    {
        "numpy.dtype",
        "skorch.dataset.Dataset",
        "skorch.dataset.ValidSplit",
        "torch.utils.data.dataloader.DataLoader",
    }
)


class UntrustedTypesError(ValueError):
    """A model file holds types that are not trusted; nothing was loaded."""


class ModelVersionWarning(UserWarning):
    """A model file was written with other package versions than those installed."""


class _NetworkRef:
    """Stands for a network inside the skops part of a model file.

    Holds the network's class and parameters (through skops' trusted-type
    checks) and the index of its weight files, or ``None`` if unfitted.
    """

    def __init__(self, cls, params, index):
        self.cls = cls
        self.params = params
        self.index = index


def trusted_types(types):
    """Split type names into those this package trusts and the others.

    Parameters
    ----------
    types : list of str
        Fully qualified type names, as :func:`skops.io.get_untrusted_types`
        returns them.

    Returns
    -------
    trusted, untrusted : list of str
    """
    trusted = [t for t in types if t in _TRUSTED_NAMES or t.startswith(_TRUSTED_PREFIXES)]
    return trusted, [t for t in types if t not in trusted]


def save_model(estimator, path, *, metadata=None):
    """Save a fitted estimator of the package to one file, without pickle.

    Works for any estimator built from this package's and scikit-learn's
    parts: baseline pipelines, :class:`~skeeg2bold.nn.EEG2BoldRegressor`
    networks, :class:`~skeeg2bold.ensemble.SeedEnsembleRegressor`, and
    wrappers such as :class:`~sklearn.compose.TransformedTargetRegressor` or a
    fitted search. The scikit-learn parts are written with :mod:`skops.io`;
    network weights as safetensors and their other fitted attributes as JSON
    (:meth:`~skeeg2bold.nn.EEG2BoldRegressor.save_params`). Optimizer states
    are not kept: a loaded network predicts, and trains anew with ``fit``.

    Parameters
    ----------
    estimator : estimator
        Usually fitted; an unfitted one is saved with its parameters only.
    path : str or path-like
        The file to write (a zip archive; any extension).
    metadata : dict, default=None
        JSON-serialisable information stored beside the model, returned by
        :func:`load_model` with ``return_metadata=True``.
        :class:`~skeeg2bold.online.OnlineTwin` reads ``"target_names"``
        (output channel names) and ``"tr"`` (its default step, s).

    Returns
    -------
    path : pathlib.Path

    See Also
    --------
    load_model

    Examples
    --------
    >>> save_model(model, "ridge.skeeg2bold",
    ...            metadata={"target_names": names, "tr": 1.95})  # doctest: +SKIP
    >>> model = load_model("ridge.skeeg2bold")  # doctest: +SKIP
    """
    import skops.io as sio

    from ..nn import EEG2BoldRegressor

    path = Path(path)
    metadata = {} if metadata is None else dict(metadata)
    try:
        metadata_json = json.dumps(metadata)
    except TypeError as err:
        raise TypeError(f"metadata must be JSON-serialisable: {err}") from None
    networks = _find_networks(estimator)
    memo, files, index = {}, {}, []
    for i, net in enumerate(networks):
        if not isinstance(net, EEG2BoldRegressor):
            raise TypeError(
                f"{type(net).__name__} is a skorch network other than EEG2BoldRegressor; "
                "only EEG2BoldRegressor networks can be saved without pickle."
            )
        params = {k: v for k, v in net.get_params(deep=False).items() if not k.startswith("_")}
        fitted = bool(getattr(net, "initialized_", False)) and hasattr(net, "n_chans_")
        memo[id(net)] = _NetworkRef(type(net), params, i if fitted else None)
        entry = {"class": type(net).__name__, "fitted": fitted}
        if fitted:
            files.update(_network_files(net, i))
        index.append(entry)
    # A copy in which every network is its reference; the original is untouched.
    stripped = copy.deepcopy(estimator, memo)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "metadata": json.loads(metadata_json),
        "networks": index,
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=2))
        archive.writestr(_ESTIMATOR, sio.dumps(stripped))
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def load_model(path, *, trusted=None, return_metadata=False):
    """Load a model written by :func:`save_model`.

    Nothing is unpickled. The scikit-learn part is rebuilt by
    :func:`skops.io.loads` from the types of this package, of scikit-learn
    and skops' defaults; any other type in the file (a custom transformer,
    callback, ...) is refused unless named in ``trusted``. Networks are
    rebuilt from their class and parameters, and their weights loaded from
    safetensors.

    Parameters
    ----------
    path : str or path-like
    trusted : list of str, default=None
        Further type names to trust (as listed in the error for an
        untrusted file). Only name types whose code you trust.
    return_metadata : bool, default=False
        Also return the ``metadata`` given to :func:`save_model`.

    Returns
    -------
    estimator : estimator
    metadata : dict
        Only with ``return_metadata=True``.

    Raises
    ------
    UntrustedTypesError
        The file holds types that are not trusted.
    ValueError
        The file is not a model file of this package, or of a newer format.

    Warns
    -----
    ModelVersionWarning
        The file was written with other versions of the packages involved
        (scikit-learn, torch, ...) than those installed; predictions may differ.
    """
    import skops.io as sio
    import torch

    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, IsADirectoryError):
        raise ValueError(f"{path} is not a skeeg2bold model file (not a zip archive).") from None
    with archive:
        try:
            manifest = json.loads(archive.read(_MANIFEST))
        except KeyError:
            raise ValueError(f"{path} is not a skeeg2bold model file (no {_MANIFEST}).") from None
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{path} is not a skeeg2bold model file.")
        if manifest.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(
                f"{path} has model format version {manifest['format_version']}; this "
                f"skeeg2bold reads up to {FORMAT_VERSION}. Upgrade skeeg2bold."
            )
        _check_versions(manifest.get("versions", {}), path)
        blob = archive.read(_ESTIMATOR)
        _, untrusted = trusted_types(sio.get_untrusted_types(data=blob))
        refused = sorted(set(untrusted) - set(trusted or ()))
        if refused:
            raise UntrustedTypesError(
                f"{path} holds types that are not trusted: {refused}. Loading them could "
                "run their code; if you trust the file's author and these types, pass "
                "load_model(..., trusted=[...]) with their names."
            )
        stripped = sio.loads(blob, trusted=sorted(set(sio.get_untrusted_types(data=blob))))
        networks = {}
        rng_state = torch.get_rng_state()  # building a network seeds torch
        try:
            estimator = _swap_refs(stripped, lambda ref: _build(ref, archive, networks))
        finally:
            torch.set_rng_state(rng_state)
    if return_metadata:
        return estimator, manifest.get("metadata", {})
    return estimator


def _network_files(net, index):
    """The weight, fitted-attribute and history files of one fitted network."""
    import tempfile

    names = {
        "f_params": f"network-{index}.safetensors",
        "f_fitted": f"network-{index}.json",
        "f_history": f"network-{index}.history.json",
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = {arg: Path(tmp) / name for arg, name in names.items()}
        net.save_params(**paths, use_safetensors=True)
        return {names[arg]: path.read_bytes() for arg, path in paths.items()}


def _build(ref, archive, built):
    if ref.index is None:
        return ref.cls(**ref.params)
    if ref.index in built:  # the same network reached twice
        return built[ref.index]
    net = ref.cls(**ref.params)
    stem = f"network-{ref.index}"
    net.load_params(
        f_params=io.BytesIO(archive.read(f"{stem}.safetensors")),
        f_fitted=io.StringIO(archive.read(f"{stem}.json").decode()),
        f_history=io.StringIO(archive.read(f"{stem}.history.json").decode()),
        use_safetensors=True,
    )
    built[ref.index] = net
    return net


def _children(obj):
    """Containers and estimators inside ``obj`` that may hold networks."""
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple)):
        return list(obj)
    if isinstance(obj, BaseEstimator):
        return list(vars(obj).values())
    return []


def _find_networks(obj):
    from skorch import NeuralNet

    found, seen, stack = [], set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, NeuralNet):
            found.append(item)
        else:
            stack.extend(reversed(_children(item)))
    return found


def _swap_refs(obj, build, seen=None):
    """``obj`` with every :class:`_NetworkRef` inside replaced by ``build(ref)``."""
    seen = set() if seen is None else seen
    if isinstance(obj, _NetworkRef):
        return build(obj)
    if id(obj) in seen:
        return obj
    seen.add(id(obj))
    if isinstance(obj, list):
        obj[:] = [_swap_refs(o, build, seen) for o in obj]
    elif isinstance(obj, tuple):
        swapped = [_swap_refs(o, build, seen) for o in obj]
        if any(a is not b for a, b in zip(swapped, obj)):
            obj = type(obj)(*swapped) if hasattr(obj, "_fields") else type(obj)(swapped)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _swap_refs(value, build, seen)
    elif isinstance(obj, BaseEstimator):
        for key, value in vars(obj).items():
            vars(obj)[key] = _swap_refs(value, build, seen)
    return obj


def _versions():
    from .. import __version__

    versions = {"skeeg2bold": __version__}
    for package in _PACKAGES[1:]:
        try:
            versions[package] = _metadata.version(package)
        except _metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _check_versions(saved, path):
    current = _versions()
    differ = {
        p: (v, current.get(p)) for p, v in saved.items() if v is not None and current.get(p) != v
    }
    if differ:
        detail = ", ".join(f"{p} {old} (installed: {new})" for p, (old, new) in differ.items())
        warnings.warn(
            f"{path} was written with {detail}; predictions may differ from the saved "
            "model's. Refit, or install those versions, for identical results.",
            ModelVersionWarning,
            stacklevel=3,
        )
