"""The paper's experiment: its models, data and protocol, run and reported.

:func:`run_experiment` evaluates any models under one protocol;
:func:`run_paper_experiment` and its parts (:func:`load_dataset`,
:func:`paper_windows`, :func:`paper_models`, :func:`paper_protocol`,
:func:`add_unmixing_oracles`) and :func:`save_report` are what
``skeeg2bold run`` calls.
"""

from ._figures import plot_prediction_traces, plot_roi_correlations
from ._paper import (
    CORTICAL_ORACLE,
    MODEL_HELP,
    ORACLE,
    PRESETS,
    add_unmixing_oracles,
    load_dataset,
    paper_chance_models,
    paper_model,
    paper_models,
    paper_protocol,
    paper_windows,
    run_paper_experiment,
)
from ._report import save_report
from ._run import ExperimentResult, run_experiment

__all__ = [
    "CORTICAL_ORACLE",
    "MODEL_HELP",
    "ORACLE",
    "PRESETS",
    "ExperimentResult",
    "add_unmixing_oracles",
    "load_dataset",
    "paper_chance_models",
    "paper_model",
    "paper_models",
    "paper_protocol",
    "paper_windows",
    "plot_prediction_traces",
    "plot_roi_correlations",
    "run_experiment",
    "run_paper_experiment",
    "save_report",
]
