"""Leak-free cross-validation for overlapping EEG windows, and the chance level."""

from ._chance import chance_level
from ._split import LastBlockSplit, PaperProtocolSplit, TimeBlockedSplit

__all__ = ["LastBlockSplit", "PaperProtocolSplit", "TimeBlockedSplit", "chance_level"]
