"""Data shipped with the package: a simultaneous EEG-fMRI simulator.

No public EEG-fMRI recording can be downloaded everywhere, so the default
data of the examples, tests and benchmarks is simulated, with a ground truth
and a known noise ceiling (see ``docs/simulator.rst``). Two independent
families: :func:`simulate_eeg_fmri` (rhythmic dipoles, the default data) and
:func:`simulate_burst_eeg_fmri` (bursts on aperiodic activity, cortical
patches), so that a model chosen on one can be tested on the other.
"""

from .._constants import BAND_NAMES
from ._bursts import BURST_FEATURE_NAMES, simulate_burst_eeg_fmri
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
    "BURST_FEATURE_NAMES",
    "CWL_CH_NAMES",
    "FEATURE_NAMES",
    "ROI_NAMES",
    "ceiling_for",
    "simulate_burst_eeg_fmri",
    "simulate_eeg_fmri",
    "source_recordings",
]
