"""How far to trust a prediction: conformal intervals and out-of-distribution scores.

:class:`ConformalRegressor` needs MAPIE (in the ``online`` extra).
"""

from ._conformal import ConformalRegressor
from ._ood import CovarianceOODScore

__all__ = ["ConformalRegressor", "CovarianceOODScore"]
