"""How far to trust a prediction: conformal intervals and out-of-distribution scores.

:class:`ConformalRegressor` needs MAPIE (in the ``online`` extra).
"""

from ._conformal import ConformalRegressor

__all__ = ["ConformalRegressor"]
