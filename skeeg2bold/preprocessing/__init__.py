"""Preprocessing of in-scanner EEG: carbon-wire loop regression of the scanner artefacts."""

from ._cwl import CWLRegression, OnlineCWLRegression, cwl_regression

__all__ = ["CWLRegression", "OnlineCWLRegression", "cwl_regression"]
