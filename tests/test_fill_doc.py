"""Shared parameter docs (skeeg2bold.utils._docs)."""

import pytest

from skeeg2bold.utils._docs import docdict, fill_doc


def test_fill_doc_indents_each_entry_as_its_line():
    @fill_doc
    def f(X, groups=None):
        """Do.

        Parameters
        ----------
        %(groups)s
        """

    expected = "\n".join("        " + line for line in docdict["groups"].splitlines())
    assert expected in f.__doc__ and "%(" not in f.__doc__


def test_unknown_entry_is_refused_by_name():
    with pytest.raises(KeyError, match="no shared doc 'nope'"):

        @fill_doc
        def g():
            """%(nope)s"""


def test_the_package_docstrings_are_filled():
    from skeeg2bold.ensemble import StandardizedAverageRegressor
    from skeeg2bold.experiment import paper_models
    from skeeg2bold.features import BandCovariances, EnvelopeFeatureExtractor, SubjectAlignment

    for obj in (
        BandCovariances.fit,
        BandCovariances.transform,
        EnvelopeFeatureExtractor.fit,
        SubjectAlignment.fit,
        StandardizedAverageRegressor.fit,
        paper_models,
    ):
        assert "%(" not in obj.__doc__, obj
    assert docdict["groups"].splitlines()[0] in BandCovariances.fit.__doc__
    assert docdict["device"].splitlines()[0] in paper_models.__doc__
