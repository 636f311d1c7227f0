"""Transformations of the BOLD targets."""

from ._common_mode import CommonModeSplitter

__all__ = ["CommonModeSplitter"]
