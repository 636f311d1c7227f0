"""Data shipped with the package: a simultaneous EEG-fMRI simulator.

No public EEG-fMRI recording can be downloaded everywhere, so the default
data of the examples, tests and benchmarks is simulated, with a ground truth
and a known noise ceiling (see ``docs/simulator.rst``).
"""

from .._constants import BAND_NAMES
from ._head import CWL_CH_NAMES
from ._simulate import (
    FEATURE_NAMES,
    ROI_NAMES,
    ceiling_for,
    simulate_eeg_fmri,
    source_recordings,
)

__all__ = [
    "BAND_NAMES",
    "CWL_CH_NAMES",
    "FEATURE_NAMES",
    "ROI_NAMES",
    "ceiling_for",
    "simulate_eeg_fmri",
    "source_recordings",
]
