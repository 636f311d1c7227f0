"""Leak-free cross-validation for overlapping EEG windows, and the chance level."""

from ._chance import chance_level
from ._split import PaperProtocolSplit, TimeBlockedSplit

__all__ = ["PaperProtocolSplit", "TimeBlockedSplit", "chance_level"]
