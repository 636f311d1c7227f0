"""The shared argument checks of skeeg2bold._validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skeeg2bold._validation import (
    InvalidArgumentError,
    check_bands,
    check_int,
    fourier_band_masks,
)


def test_check_int_accepts_integers_of_any_kind():
    assert check_int(3, "n") == 3
    assert type(check_int(np.int64(3), "n")) is int
    assert check_int(None, "n", allow_none=True) is None
    assert check_int(0, "n", min_value=0, max_value=0) == 0


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (0, dict(min_value=1), "n_members must be a positive integer, got 0."),
        (2.5, dict(min_value=1), "n_members must be a positive integer, got 2.5."),
        (3.0, dict(min_value=1), "n_members must be a positive integer, got 3.0."),
        (True, dict(min_value=1), "n_members must be a positive integer, got True."),
        ("2", dict(min_value=0), "n_members must be a non-negative integer, got '2'."),
        (1, dict(min_value=2), "n_members must be an integer >= 2, got 1."),
        (9, dict(min_value=0, max_value=4), r"n_members must be an integer in \[0, 4\], got 9."),
        (None, {}, "n_members must be an integer, got None."),
        ("0", dict(allow_none=True), "n_members must be an integer or None, got '0'."),
    ],
)
def test_check_int_names_the_argument_value_and_range(value, kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message) as info:
        check_int(value, "n_members", **kwargs)
    # Callers may catch either, as with scikit-learn's InvalidParameterError.
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    "call, name",
    [
        (
            "from skeeg2bold.ensemble import SeedEnsembleRegressor as S; "
            "from sklearn.linear_model import Ridge; import numpy as np; "
            "S(Ridge(), n_members=0).fit(np.ones((4, 1)), np.ones(4))",
            "n_members",
        ),
        (
            "from skeeg2bold.model_selection import TimeBlockedSplit as T; import numpy as np; "
            "next(T(1, window=1.0, times=np.arange(9.0)).split(np.ones((9, 1))))",
            "n_splits",
        ),
        ("from skeeg2bold.datasets import simulate_eeg_fmri as s; s(n_subjects=0)", "n_subjects"),
        ("from skeeg2bold.utils import thread_budget as t; t(2, n_cpus=2.5)", "n_cpus"),
        ("from skeeg2bold.nn import CompactNet as C; C(n_chans=0)", "n_chans"),
        ("from skeeg2bold.io import make_toy_atlas as m; m(shape=(4, 4, 0))", "shape"),
    ],
)
def test_inline_integer_checks_go_through_check_int(call, name):
    # One helper: every integer argument fails with its wording and class.
    code = f"{call}\n"
    with pytest.raises(InvalidArgumentError, match=f"^{name} must be"):
        exec(code, {})


def test_utils_modules_import_without_a_cycle():
    # Every import, also those inside functions: _dask needs the thread
    # budget, so the budget must not live in the module that imports _dask.
    import ast
    from pathlib import Path

    import skeeg2bold.utils

    folder = Path(skeeg2bold.utils.__file__).parent
    graph = {}
    for path in folder.glob("_*.py"):
        graph[path.stem] = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        }

    def reaches(start, target, seen=()):
        return any(
            m == target or (m not in seen and reaches(m, target, (*seen, m)))
            for m in graph.get(start, ())
        )

    assert not [m for m in graph if reaches(m, m)], graph


@settings(max_examples=60, deadline=None)
@given(
    lo=st.floats(-5.0, 80.0, allow_nan=False),
    width=st.floats(-5.0, 80.0, allow_nan=False),
    sfreq=st.sampled_from([50.0, 100.0, 128.0, 250.0]),
)
def test_every_band_check_applies_the_one_nyquist_rule(lo, width, sfreq):
    """Envelopes, covariances and the networks accept and refuse the same bands:
    ``0 < l_freq < h_freq < sfreq / 2``."""
    from skeeg2bold.features._envelope import _check_bands
    from skeeg2bold.nn._feature_extractor import _check_band_edges

    band = (lo, lo + width)
    ok = 0 < band[0] < band[1] < sfreq / 2
    for check in (check_bands, _check_bands, _check_band_edges):
        if ok:
            out = check([band], sfreq)
            assert list(out.values() if isinstance(out, dict) else out) == [band]
        else:
            with pytest.raises(ValueError, match=r"sfreq/2 = "):
                check([band], sfreq)


def test_fourier_band_masks_hold_the_bins_of_each_band_or_name_the_empty_one():
    masks = fourier_band_masks({"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}, 100, 100.0)
    assert [np.flatnonzero(m).tolist() for m in masks] == [list(range(8, 13)), list(range(13, 30))]
    with pytest.raises(ValueError, match="band 'narrow' .* holds no Fourier frequency"):
        fourier_band_masks({"narrow": (10.2, 10.8)}, 100, 100.0)
