"""Ensembles of estimators."""

from ._adapt import SubjectStackingRegressor
from ._average import StandardizedAverageRegressor
from ._seed import SeedEnsembleRegressor

__all__ = ["SeedEnsembleRegressor", "StandardizedAverageRegressor", "SubjectStackingRegressor"]
