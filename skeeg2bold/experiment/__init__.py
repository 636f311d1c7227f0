"""Run several models under one protocol and report them like the paper."""

from ._figures import plot_prediction_traces, plot_roi_correlations
from ._run import ExperimentResult, run_experiment

__all__ = [
    "ExperimentResult",
    "plot_prediction_traces",
    "plot_roi_correlations",
    "run_experiment",
]
