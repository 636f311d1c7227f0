"""Ensembles of estimators."""

from ._average import StandardizedAverageRegressor
from ._seed import SeedEnsembleRegressor

__all__ = ["SeedEnsembleRegressor", "StandardizedAverageRegressor"]
