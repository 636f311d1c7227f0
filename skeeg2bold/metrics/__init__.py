"""Accuracy measures: Pearson r per target, a mean-r scorer, tidy tables."""

from ._correlation import (
    ConstantTargetWarning,
    correlation_table,
    mean_r,
    mean_r_scorer,
    pearson_r,
)

__all__ = [
    "ConstantTargetWarning",
    "correlation_table",
    "mean_r",
    "mean_r_scorer",
    "pearson_r",
]
