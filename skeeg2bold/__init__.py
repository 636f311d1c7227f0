"""skeeg2bold: predict subcortical fMRI BOLD from EEG, the scikit-learn way.

An "EEG-based fMRI digital twin" (Dagaev, Semenkova & Ossadtchi): models
trained on simultaneous EEG-fMRI that afterwards predict the BOLD signal of
deep brain structures from EEG alone.

The data model (:class:`Recording`, :func:`make_windows`) is imported
eagerly; the other public names live in subpackages (``skeeg2bold.nn``,
``skeeg2bold.io``, ...) and are re-exported here lazily, so that
``import skeeg2bold`` does not pay for torch or nilearn until they are used.
"""

import importlib

from ._recording import MarkerReport, Recording, volume_onsets_from_markers
from ._windows import DroppedWindowsWarning, EEGWindows, make_windows

__version__ = "0.1.0.dev0"

# Public name -> subpackage that defines it (imported on first access).
_LAZY = {
    "simulate_eeg_fmri": "datasets",
    "EnvelopeFeatureExtractor": "features",
    "HRFConvolution": "features",
    "CommonModeSplitter": "targets",
    "make_ridge_baseline": "baselines",
    "make_hrf_baseline": "baselines",
    "EEG2BoldRegressor": "nn",
    "SeedEnsembleRegressor": "ensemble",
    "EEG2BoldNet": "nn",
    "CompactNet": "nn",
    "branch_patterns": "nn",
    "plot_branch_patterns": "nn",
    "BOLDRoiTargets": "io",
    "read_cwl": "io",
    "read_bids": "io",
    "write_cwl": "io",
    "PaperProtocolSplit": "model_selection",
    "TimeBlockedSplit": "model_selection",
    "chance_level": "model_selection",
    "pearson_r": "metrics",
    "mean_r_scorer": "metrics",
    "correlation_table": "metrics",
    "run_experiment": "experiment",
}

__all__ = [
    "DroppedWindowsWarning",
    "EEGWindows",
    "MarkerReport",
    "Recording",
    "make_windows",
    "volume_onsets_from_markers",
    *sorted(_LAZY),
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
