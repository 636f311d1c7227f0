"""skeeg2bold: predict subcortical fMRI BOLD from EEG, the scikit-learn way.

An "EEG-based fMRI digital twin" (Dagaev, Semenkova & Ossadtchi): models
trained on simultaneous EEG-fMRI that afterwards predict the BOLD signal of
deep brain structures from EEG alone.
"""

from ._recording import Recording, volume_onsets_from_markers
from ._windows import DroppedWindowsWarning, EEGWindows, make_windows

__version__ = "0.1.0.dev0"

__all__ = [
    "DroppedWindowsWarning",
    "EEGWindows",
    "Recording",
    "make_windows",
    "volume_onsets_from_markers",
]
