"""Features from EEG windows: band envelopes and their haemodynamic convolution."""

from ._envelope import DEFAULT_BANDS, EnvelopeFeatureExtractor
from ._hrf import HRFConvolution

__all__ = ["DEFAULT_BANDS", "EnvelopeFeatureExtractor", "HRFConvolution"]
