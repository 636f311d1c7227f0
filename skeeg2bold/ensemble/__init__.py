"""Ensembles of estimators."""

from ._seed import SeedEnsembleRegressor

__all__ = ["SeedEnsembleRegressor"]
