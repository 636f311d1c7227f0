"""Features from EEG windows: band envelopes, band covariances, their haemodynamic
convolution and tangent space, and per-subject alignment."""

from ._covariance import BandCovariances, TangentSpaceFeatures
from ._envelope import DEFAULT_BANDS, EnvelopeFeatureExtractor
from ._hrf import HRFConvolution
from ._subject import SubjectAlignment

__all__ = [
    "BandCovariances",
    "DEFAULT_BANDS",
    "EnvelopeFeatureExtractor",
    "HRFConvolution",
    "SubjectAlignment",
    "TangentSpaceFeatures",
]
