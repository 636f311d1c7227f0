"""Run a fitted model online: EEG from Lab Streaming Layer in, predicted BOLD out.

Needs the ``online`` extra (``pip install "skeeg2bold[online]"``: mne-lsl).
"""

from ._twin import AmplitudeWarning, OnlineTwin, TwinStep

__all__ = ["AmplitudeWarning", "OnlineTwin", "TwinStep"]
