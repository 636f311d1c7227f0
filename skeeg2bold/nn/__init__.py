"""Deep models: the paper's EEG-to-BOLD network, a compact one, and their tools."""

from ._band_power import BandPowerNet
from ._base import EEGModuleMixin, remove_line, window_amplitude
from ._blocks import MHAConvBlock
from ._compact import CompactNet
from ._decoder import Decoder
from ._eeg2bold import EEG2BoldNet
from ._encoder import Encoder
from ._feature_extractor import InterpretableFeatureExtractor
from ._interpretation import branch_patterns, plot_branch_patterns
from ._loss import CorrelationCLIPLoss, clip_loss, negative_pearson
from ._post_decoder import PostDecoder
from ._regressor import EEG2BoldRegressor
from ._valid_split import PredefinedValidSplit, TimeBlockedValidSplit

__all__ = [
    "BandPowerNet",
    "CompactNet",
    "CorrelationCLIPLoss",
    "Decoder",
    "EEG2BoldNet",
    "EEG2BoldRegressor",
    "EEGModuleMixin",
    "Encoder",
    "InterpretableFeatureExtractor",
    "MHAConvBlock",
    "PostDecoder",
    "PredefinedValidSplit",
    "TimeBlockedValidSplit",
    "branch_patterns",
    "clip_loss",
    "negative_pearson",
    "plot_branch_patterns",
    "remove_line",
    "window_amplitude",
]
