"""Leak-free cross-validation for overlapping EEG windows, and the chance level."""

from ._split import PaperProtocolSplit, TimeBlockedSplit

__all__ = ["PaperProtocolSplit", "TimeBlockedSplit"]
