"""Property-based tests: hostile input either works correctly or fails clearly.

Every case below ends in one of two ways: the function returns a result that
an independent computation confirms (shapes, values, disjoint folds), or it
raises a ``ValueError``/``TypeError`` whose message names the argument at
fault. A bare numpy traceback, a silent wrong shape or a NaN that slipped
through fails the test.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skeeg2bold import DroppedWindowsWarning, EEGWindows, Recording, make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.features import EnvelopeFeatureExtractor, HRFConvolution
from skeeg2bold.metrics import ConstantTargetWarning, correlation_table, mean_r, pearson_r
from skeeg2bold.model_selection import PaperProtocolSplit, TimeBlockedSplit
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor
from skeeg2bold.targets import CommonModeSplitter

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)


def call_or_named_error(fn, *names):
    """Return ``fn()``, or None when it raised a clear error naming one of ``names``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DroppedWindowsWarning)
            warnings.simplefilter("ignore", ConstantTargetWarning)
            result = fn()
        _record("accepted")
        return result
    except (ValueError, TypeError) as err:
        _record(f"rejected: {type(err).__name__}")
        message = str(err)
        assert any(name in message for name in names), (
            f"{type(err).__name__} names none of {names}: {message}"
        )
        return None


def _record(outcome):
    """Count outcomes in hypothesis' statistics (--hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(outcome)


# -- strategies ---------------------------------------------------------------
DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int16, np.int64, np.bool_])
HOSTILE_FLOATS = st.one_of(
    st.floats(-1e3, 1e3),
    st.sampled_from([0.0, np.nan, np.inf, -np.inf, 1e300, -1e300, 1e-300]),
)


@st.composite
def arrays(draw, shape, *, dtype=None):
    """Arrays of any dtype in DTYPES; floats may hold NaN, inf, huge/tiny values."""
    dtype = np.dtype(draw(DTYPES) if dtype is None else dtype)
    if dtype.kind == "f":
        elements = HOSTILE_FLOATS
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        elements = st.integers(-1000, 1000)
    array = draw(hnp.arrays(np.float64 if dtype.kind == "f" else dtype, shape, elements=elements))
    if dtype.kind == "f":
        with np.errstate(over="ignore"):  # 1e300 becomes inf in float16/32: still hostile
            array = array.astype(dtype)
    if array.ndim == 2 and array.shape[0] and draw(st.booleans()):
        array[draw(st.integers(0, array.shape[0] - 1))] = 1  # a constant channel
    return array


@st.composite
def valid_recordings(draw, *, subject="s1", n_channels=None, sfreq=None):
    """Finite, well-formed recordings of 2-40 s at a low rate; volumes mostly inside."""
    sfreq = draw(st.sampled_from([10.0, 25.0, 50.0])) if sfreq is None else sfreq
    n_channels = draw(st.integers(1, 3)) if n_channels is None else n_channels
    n_times = int(draw(st.floats(2.0, 40.0)) * sfreq)
    duration = n_times / sfreq
    n_volumes = draw(st.integers(1, 12))
    tr = draw(st.floats(0.5, 3.0))
    first = draw(st.floats(-0.2, 0.8)) * duration
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # Jitter below half a TR keeps the onsets increasing, as the scanner's are.
    onsets = (
        first + tr * np.arange(n_volumes) + rng.uniform(0, draw(st.floats(0, 0.4)) * tr, n_volumes)
    )
    eeg = rng.standard_normal((n_channels, n_times)) * draw(st.sampled_from([1e-6, 1.0, 1e6]))
    n_rois = draw(st.integers(1, 3))
    bold = rng.standard_normal((n_volumes, n_rois)) + 1e4
    return Recording(
        eeg,
        bold,
        onsets,
        sfreq=sfreq,
        ch_names=[f"E{k}" for k in range(n_channels)],
        subject=subject,
        roi_names=[f"roi{k}" for k in range(n_rois)],
    )


# -- Recording ---------------------------------------------------------------
@FUZZ
@given(
    hostile=st.sampled_from([None, "eeg", "bold", "volume_times", "sfreq"]),
    n_channels=st.integers(1, 3),
    n_times=st.integers(1, 30),
    n_volumes=st.integers(1, 4),
    data=st.data(),
)
def test_recording_accepts_valid_and_names_the_bad_argument(
    hostile, n_channels, n_times, n_volumes, data
):
    # One argument at a time is drawn from hostile values; the rest are valid,
    # so an error must name that argument and a valid call must succeed.
    kwargs = {
        "eeg": np.ones((n_channels, n_times)),
        "bold": np.zeros((n_volumes, 2)),
        "volume_times": np.arange(n_volumes, dtype=float),
        "sfreq": 100.0,
    }
    if hostile == "eeg":
        shape = data.draw(
            st.sampled_from(
                [
                    (n_channels, n_times),
                    (n_channels, 0),
                    (0, n_times),
                    (n_times,),
                    (1, n_channels, n_times),
                ]
            )
        )
        kwargs["eeg"] = data.draw(arrays(shape))
    elif hostile == "bold":
        shape = data.draw(
            st.sampled_from(
                [(n_volumes, 2), (n_volumes,), (n_volumes, 0), (0, 2), (n_volumes, 1, 1), ()]
            )
        )
        kwargs["bold"] = data.draw(arrays(shape))
    elif hostile == "volume_times":
        kwargs["volume_times"] = data.draw(
            st.one_of(
                st.lists(HOSTILE_FLOATS, min_size=n_volumes, max_size=n_volumes),
                st.lists(st.floats(0, 10), max_size=5),
                st.just([["a"]] * n_volumes),
            )
        )
    elif hostile == "sfreq":
        kwargs["sfreq"] = data.draw(
            st.one_of(
                st.sampled_from([0.0, -1.0, np.nan, np.inf, "100", None, True]),
                st.integers(-5, 500),
                st.floats(1e-3, 1e5),
                st.just(np.float32(250.0)),
            )
        )
    eeg = kwargs["eeg"]
    ch_names = [f"E{k}" for k in range(np.shape(eeg)[0])] if np.ndim(eeg) else []
    rec = call_or_named_error(lambda: Recording(**kwargs, ch_names=ch_names), str(hostile))
    if hostile is None:
        assert rec is not None
    if rec is None:
        return
    # Whatever was accepted is finite, float, 2-D and the same numbers.
    assert rec.eeg.dtype in (np.float32, np.float64) and rec.eeg.shape == np.shape(eeg)
    assert np.all(np.isfinite(rec.eeg))
    np.testing.assert_allclose(rec.eeg, np.asarray(eeg).astype(rec.eeg.dtype))
    assert rec.bold.dtype == np.float64 and rec.bold.shape[0] == n_volumes
    assert rec.bold.shape[1] == (np.shape(kwargs["bold"]) + (1,))[1]
    assert np.all(np.isfinite(rec.bold)) and np.all(np.diff(rec.volume_times) > 0)
    assert rec.sfreq > 0 and np.isfinite(rec.sfreq)


@FUZZ
@given(
    names=st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=3),
        st.lists(st.text(max_size=2), max_size=4),
        st.lists(st.integers(0, 3), max_size=4),
        st.lists(st.text(min_size=1, max_size=3), min_size=3, max_size=3, unique=True),
    )
)
def test_recording_channel_and_roi_names_are_checked(names):
    eeg, bold = np.zeros((3, 50)), np.zeros((2, 3))
    for arg in ("ch_names", "roi_names"):
        kwargs = {"ch_names": ["a", "b", "c"], arg: names}
        rec = call_or_named_error(
            lambda: Recording(eeg, bold, [1.0, 2.0], sfreq=10.0, **kwargs), arg
        )
        if rec is not None:
            got = getattr(rec, arg)
            assert len(got) == 3 and len(set(got)) == 3 and all(isinstance(n, str) for n in got)


# -- make_windows -----------------------------------------------------------
def expected_windows(rec, window, shift, step):
    """Independent reference: EEG slices and BOLD rows from the definition."""
    n_times = int(round(window * rec.sfreq))
    if step is None:
        t_bold, bold = rec.volume_times, rec.bold
    else:
        t0, t1 = rec.volume_times[0], rec.volume_times[-1]
        t_bold = np.arange(t0, t1 + step * 1e-6, step)
        t_bold = t_bold[t_bold <= t1 + 1e-9]
        bold = np.column_stack([np.interp(t_bold, rec.volume_times, c) for c in rec.bold.T])
    windows, rows = [], []
    for t, b in zip(t_bold, bold):
        stop = np.round((t - shift) * rec.sfreq)
        if stop - n_times >= 0 and stop <= rec.eeg.shape[1]:
            stop = int(stop)
            windows.append(rec.eeg[:, stop - n_times : stop])
            rows.append(b)
    return windows, rows


@FUZZ
@given(
    recs=st.lists(valid_recordings(), min_size=1, max_size=3),
    hostile=st.sampled_from([None, "window", "shift", "step", "dtype", "sfreq"]),
    window_fraction=st.floats(0.05, 0.6),
    data=st.data(),
)
def test_make_windows_matches_reference_or_names_the_argument(recs, hostile, window_fraction, data):
    # Every recording gets the first one's channels, ROIs and rate and its own
    # subject, so the call is valid apart from the one hostile argument.
    ref = recs[0]
    recs = [
        Recording(
            np.resize(r.eeg, (ref.n_channels, r.eeg.shape[1])),
            np.resize(r.bold, (r.n_volumes, ref.bold.shape[1])),
            r.volume_times,
            sfreq=ref.sfreq,
            ch_names=ref.ch_names,
            roi_names=ref.roi_names,
            subject=f"s{k}",
        )
        for k, r in enumerate(recs)
    ]
    kwargs = {
        "window": max(window_fraction * min(r.duration for r in recs), 0.3),
        "shift": data.draw(st.floats(-2.0, 5.0), label="shift"),
        "step": data.draw(st.one_of(st.none(), st.floats(0.1, 4.0)), label="step"),
        "dtype": data.draw(st.sampled_from([None, "float32", np.float64]), label="dtype"),
    }
    hostile_values = {
        "window": st.sampled_from([0, -1.0, np.nan, np.inf, 1e300, 1e-6, "10", None]),
        "shift": st.sampled_from([np.nan, np.inf, 1e300, -1e300, "1", None]),
        "step": st.sampled_from([0.0, 1e-9, -1.0, np.nan, 1e300, "2"]),
        "dtype": st.sampled_from(["float16", "int32", "junk", object, 3]),
        "sfreq": st.sampled_from([0.0, -10.0, np.nan, 1e-3, 7.0, 33.3, "50"]),
    }
    if hostile is not None:
        kwargs[hostile] = data.draw(hostile_values[hostile], label=hostile)
    names = (hostile, "No BOLD sample") if hostile else ("No BOLD sample",)
    windows = call_or_named_error(lambda: make_windows(recs, **kwargs), *names)
    if windows is None:
        return
    if kwargs.get("sfreq") is not None:  # resampled: the reference below does not apply
        assert windows.sfreq == kwargs["sfreq"]
        assert windows.X.shape[2] == int(round(kwargs["window"] * kwargs["sfreq"]))
        assert np.all(np.isfinite(np.asarray(windows.X)))
        return
    window, shift, step, dtype = (kwargs[k] for k in ("window", "shift", "step", "dtype"))
    n_times = int(round(window * ref.sfreq))
    expected_X, expected_y, expected_groups = [], [], []
    for rec in recs:
        w, rows = expected_windows(rec, window, shift, step)
        expected_X += w
        expected_y += rows
        expected_groups += [rec.subject] * len(w)
    assert windows.X.shape == (len(expected_X), ref.n_channels, n_times)
    assert windows.y.shape == (len(expected_X), ref.bold.shape[1])
    X = np.asarray(windows.X)
    assert X.dtype == (np.dtype(dtype) if dtype else ref.eeg.dtype)
    np.testing.assert_allclose(X, np.asarray(expected_X, dtype=X.dtype), rtol=1e-6)
    np.testing.assert_allclose(windows.y, np.asarray(expected_y), rtol=1e-9)
    assert list(windows.groups) == expected_groups == list(windows.X.groups)
    np.testing.assert_allclose(
        windows.times, windows.bold_times - shift, atol=0.5 / ref.sfreq + 1e-9
    )


@FUZZ
@given(
    rec=valid_recordings(),
    recordings=st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=2),
        st.just([]),
        st.lists(st.integers(), min_size=1, max_size=2),
    ),
)
def test_make_windows_rejects_what_is_not_a_recording(rec, recordings):
    call_or_named_error(lambda: make_windows(recordings, window=1.0), "recordings")
    with pytest.raises((ValueError, TypeError), match="recordings"):
        make_windows([rec, recordings], window=1.0)


@FUZZ
@given(rec_a=valid_recordings(subject="a"), rec_b=valid_recordings(subject="b"))
def test_make_windows_mismatched_recordings_are_named(rec_a, rec_b):
    mismatched = (
        rec_a.ch_names != rec_b.ch_names,
        rec_a.roi_names != rec_b.roi_names,
        rec_a.sfreq != rec_b.sfreq,
    )
    data = call_or_named_error(
        lambda: make_windows([rec_a, rec_b], window=1.0),
        "channels",
        "ROIs",
        "sampling rates",
        "No BOLD sample",
    )
    if any(mismatched):
        assert data is None


# -- EEGWindows indexing (what cross-validation does) -------------------------
@FUZZ
@given(
    recs=st.lists(valid_recordings(n_channels=2, sfreq=10.0), min_size=1, max_size=3),
    data=st.data(),
)
def test_eeg_windows_index_like_the_materialised_array(recs, data):
    recs = [
        Recording(
            r.eeg,
            r.bold[:, :1],
            r.volume_times,
            sfreq=r.sfreq,
            ch_names=r.ch_names,
            subject=f"s{k}",
        )
        for k, r in enumerate(recs)
    ]
    windows = call_or_named_error(lambda: make_windows(recs, window=1.0), "No BOLD sample")
    assume(windows is not None)
    X, dense = windows.X, np.asarray(windows.X)
    n = len(X)
    key = data.draw(
        st.one_of(
            st.lists(st.integers(-n, n - 1), max_size=2 * n).map(np.array),
            hnp.arrays(bool, n),
            st.builds(
                slice,
                st.none() | st.integers(-n, n),
                st.none() | st.integers(-n, n),
                st.none() | st.sampled_from([1, 2, -1]),
            ),
        ),
        label="key",
    )
    if isinstance(key, np.ndarray) and key.dtype != bool:
        key = key.astype(np.intp)
    sub = X[key]
    assert isinstance(sub, EEGWindows)
    np.testing.assert_array_equal(np.asarray(sub), dense[key])
    np.testing.assert_array_equal(sub.times, X.times[key])
    np.testing.assert_array_equal(sub.groups, X.groups[key])
    with pytest.raises(IndexError):
        X[n]
    two_d = np.zeros((1, 1), dtype=int)  # numpy's result, not a lazy subset
    np.testing.assert_array_equal(X[two_d], dense[two_d])


def _axis_index(draw, size):
    """One axis's index: integer, slice (negative steps too), integer list or mask."""
    return draw(
        st.one_of(
            st.integers(-size, size - 1),
            st.builds(
                slice,
                st.none() | st.integers(-size - 1, size + 1),
                st.none() | st.integers(-size - 1, size + 1),
                st.none() | st.sampled_from([1, 2, 3, -1, -2, -3]),
            ),
            st.lists(st.integers(-size, size - 1), min_size=1, max_size=3).map(np.array),
            hnp.arrays(bool, size),
        )
    )


@st.composite
def index_expressions(draw, shape):
    """Index tuples as users write them: up to one per axis, ``...`` anywhere."""
    n_axes = draw(st.integers(1, 3))
    axes = draw(st.sampled_from([(0, 1, 2)[:n_axes], (0, 1, 2)[3 - n_axes :]]))
    parts = [_axis_index(draw, shape[a]) for a in axes]
    if draw(st.booleans()) and n_axes < 3:
        # ``...`` stands for the axes not indexed: before the leading ones
        # when the trailing axes are indexed, after them otherwise.
        at = 0 if axes[0] > 0 else len(parts)
        parts.insert(at, Ellipsis)
    elif axes[0] > 0:
        parts = [slice(None)] * axes[0] + parts
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return tuple(parts)


@FUZZ
@given(
    recs=st.lists(valid_recordings(n_channels=2, sfreq=10.0), min_size=1, max_size=2),
    data=st.data(),
)
def test_eeg_windows_any_index_equals_numpy_on_the_dense_array(recs, data):
    recs = [
        Recording(
            r.eeg,
            r.bold[:, :1],
            r.volume_times,
            sfreq=r.sfreq,
            ch_names=r.ch_names,
            subject=f"s{k}",
        )
        for k, r in enumerate(recs)
    ]
    windows = call_or_named_error(lambda: make_windows(recs, window=1.0), "No BOLD sample")
    assume(windows is not None)
    X, dense = windows.X, np.asarray(windows.X)
    key = data.draw(index_expressions(dense.shape), label="key")
    try:
        expected = dense[key]
    except IndexError:
        with pytest.raises(IndexError):
            X[key]
        return
    got = X[key]
    assert np.shape(got) == expected.shape
    np.testing.assert_array_equal(np.asarray(got), expected)
    if isinstance(got, np.ndarray) and np.shares_memory(got, windows.X._buffers[0]):
        assert not got.flags.writeable


# -- splitters ---------------------------------------------------------------
@st.composite
def window_layouts(draw, min_windows=0, min_subjects=1):
    """End times and subjects of windows: 1-3 subjects, any start, 0.5-4 s apart."""
    n_subjects = draw(st.integers(min_subjects, 3))
    times, groups = [], []
    for s in range(n_subjects):
        n = draw(st.integers(min_windows, 60))
        step = draw(st.floats(0.5, 4.0))
        start = draw(st.floats(0.0, 50.0))
        times.append(start + step * np.arange(n))
        groups += [f"sub-{s}"] * n
    return np.concatenate(times), np.asarray(groups)


@FUZZ
@given(
    layout=window_layouts(),
    n_splits=st.one_of(st.integers(2, 5), st.sampled_from([-1, 0, 1, 2.0, "3", None])),
    window=st.sampled_from([1.0, 2.0]),
    gap=st.floats(0.0, 10.0),
)
def test_time_blocked_split_folds_are_disjoint_and_gapped(layout, n_splits, window, gap):
    times, groups = layout
    cv = TimeBlockedSplit(n_splits, window=window, gap=gap, times=times)
    X = np.zeros((times.size, 1))
    folds = call_or_named_error(
        lambda: list(cv.split(X, groups=groups)), "n_splits", "X", "fold", "subject", "gap"
    )
    if folds is None:
        return
    assert len(folds) == n_splits
    min_gap = window + gap  # between end times: the EEG spans are gap apart
    tested = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(times.size))  # each once
    for train, test in folds:
        assert train.size and test.size and not np.intersect1d(train, test).size
        for g in np.unique(groups[test]):
            tr, te = train[groups[train] == g], test[groups[test] == g]
            if tr.size:
                dist = np.abs(times[tr][:, None] - times[te][None, :]).min()
                assert dist >= min_gap - 1e-9


@FUZZ
@given(
    layout=st.one_of(window_layouts(min_windows=20, min_subjects=2), window_layouts()),
    parts=st.tuples(st.floats(0.1, 0.5), st.floats(0.1, 0.25), st.floats(0.1, 0.25)),
    hostile=st.sampled_from([None, "train", "gap", "subjects"]),
    data=st.data(),
)
def test_paper_protocol_parts_are_disjoint_and_inside_their_spans(layout, parts, hostile, data):
    times, groups = layout
    window = 1.0
    assume(times.size)
    span = min(np.ptp(times[groups == g]) for g in np.unique(groups)) + window
    kwargs = dict(zip(("train", "valid", "test"), (f * span for f in parts)), gap=0.0)
    if hostile == "train":
        kwargs["train"] = data.draw(st.sampled_from([0.0, -1.0, np.nan, "60", None]))
    elif hostile == "gap":
        kwargs["gap"] = data.draw(
            st.one_of(st.floats(0.0, 5.0), st.sampled_from([-1.0, np.inf, "1"]))
        )
    elif hostile == "subjects":
        kwargs["subjects"] = data.draw(
            st.one_of(
                st.just("sub-0"),
                st.lists(
                    st.sampled_from(["sub-0", "sub-1", "sub-9"]),
                    min_size=1,
                    max_size=2,
                    unique=True,
                ),
            )
        )
    cv = PaperProtocolSplit(window=window, times=times, **kwargs)
    X = np.zeros((times.size, 1))
    splits = call_or_named_error(
        lambda: list(cv.split_with_validation(X, groups=groups)),
        *(
            {"gap": ("gap", "no valid", "no test", "no train")}.get(hostile, (hostile,))
            if hostile
            else ()
        ),
        "two subjects",
        "no train",
        "no valid",
        "no test",
    )
    if splits is None:
        return
    subjects = kwargs.get("subjects") or list(np.unique(groups))
    assert len(splits) == cv.get_n_splits(X, groups=groups) == len(subjects)
    train, valid, test, gap = (kwargs[k] for k in ("train", "valid", "test", "gap"))
    for subject, (tr, va, te) in zip(subjects, splits):
        assert not (set(tr) & set(va) or set(tr) & set(te) or set(va) & set(te))
        assert set(np.flatnonzero(groups != subject)) <= set(tr)
        t0 = times[groups == subject].min() - window
        assert np.all(times[te] - window >= t0 + train + valid + gap - 1e-6)
        assert np.all(times[te] <= t0 + train + valid + test + 1e-6)
        assert np.all(times[va] - window >= t0 + train + gap - 1e-6)
        assert np.all(times[va] <= t0 + train + valid + 1e-6)
        own_train = tr[groups[tr] == subject]
        assert np.all(times[own_train] <= t0 + train + 1e-6)


@FUZZ
@given(
    times=st.one_of(st.none(), st.lists(HOSTILE_FLOATS, max_size=6), st.text(max_size=3)),
    groups=st.one_of(st.none(), st.lists(st.sampled_from([0.0, 1.0, np.nan]), max_size=6)),
    X=st.one_of(
        st.none(),
        st.integers(),
        st.integers(0, 6).map(lambda n: np.zeros((n, 2))),
        st.integers(0, 6).map(lambda n: list(range(n))),
    ),
)
def test_splitters_name_bad_times_groups_and_x(times, groups, X):
    for cv in (
        TimeBlockedSplit(2, window=1.0, gap=0.0, times=times),
        PaperProtocolSplit(train=1, valid=1, test=1, window=1, times=times),
    ):
        splits = call_or_named_error(
            lambda: list(cv.split(X, groups=groups)),
            "times",
            "groups",
            "X",
            "subject",
            "fold",
            "n_splits",
        )
        if splits is not None:
            for train, test in splits:
                assert train.size and test.size and not np.intersect1d(train, test).size


# -- metrics --------------------------------------------------------------------
@FUZZ
@given(
    shape=st.one_of(
        st.tuples(st.integers(0, 30)), st.tuples(st.integers(0, 30), st.integers(0, 4))
    ),
    scale=st.sampled_from([1e-300, 1e-150, 1e-6, 1.0, 1e6, 1e150, 1e300]),
    offset=st.sampled_from([0.0, 1.0, 1e4]),
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int64]),
    seed=st.integers(0, 2**16),
)
def test_pearson_r_is_scale_invariant_and_bounded(shape, scale, offset, dtype, seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(shape)
    p = 0.7 * y + rng.standard_normal(shape)
    r = call_or_named_error(lambda: pearson_r(y, p), "samples", "target")
    if r is None:
        assert shape[0] < 2 or shape[-1] == 0
        return
    n_targets = 1 if len(shape) == 1 else shape[1]
    assert r.shape == (n_targets,)
    columns = lambda a: a.reshape(shape[0], -1).T  # noqa: E731
    expected = [np.corrcoef(a, b)[0, 1] for a, b in zip(columns(y), columns(p))]
    np.testing.assert_allclose(r, expected, atol=1e-9)
    # The same data in other units (near the float64 limits too) give the same r.
    np.testing.assert_allclose(pearson_r(scale * (y + offset), p), r, atol=1e-9)
    # Other dtypes: r of the values as stored, within that dtype's precision.
    y_cast = (y * 1000).astype(dtype)
    stored = y_cast.astype(np.float64)
    expected = [np.corrcoef(a, b)[0, 1] for a, b in zip(columns(stored), columns(p))]
    np.testing.assert_allclose(pearson_r(y_cast, p), expected, atol=1e-6)
    assert np.all(np.abs(r) <= 1.0)


@FUZZ
@given(
    y_true=st.integers(0, 5).flatmap(lambda n: arrays((n, 2))),
    bad=st.sampled_from([None, np.nan, np.inf, "a", 1j, [1.0, 2.0]]),
)
def test_scorers_accept_finite_numbers_only(y_true, bad):
    y_pred = np.arange(y_true.size, dtype=float).reshape(y_true.shape) ** 2
    if bad is not None and y_pred.size:
        y_pred = y_pred.astype(object if isinstance(bad, (str, complex, list)) else float)
        y_pred.flat[0] = bad
    valid = (
        y_true.shape[0] >= 2
        and np.all(np.isfinite(y_true.astype(float)))
        and y_pred.dtype.kind == "f"
        and np.all(np.isfinite(y_pred))
    )
    for fn in (pearson_r, mean_r, correlation_table):
        out = call_or_named_error(lambda: fn(y_true, y_pred), "y_true", "y_pred", "samples")
        assert (out is not None) == valid, (fn.__name__, y_true, y_pred)


@FUZZ
@given(n=st.integers(2, 20), n_targets=st.integers(1, 4), seed=st.integers(0, 100))
def test_mean_r_counts_constant_predictions_as_zero(n, n_targets, seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((n, n_targets))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConstantTargetWarning):
            mean_r(y, np.zeros_like(y))
    with pytest.warns(ConstantTargetWarning):
        assert mean_r(y, np.zeros_like(y)) == 0.0
    with pytest.warns(ConstantTargetWarning):
        assert np.isnan(pearson_r(y, np.full_like(y, 3.0))).all()


# -- transformers and the regressor ---------------------------------------------
SLOW = settings(FUZZ, max_examples=25)
EEG_SFREQ = 100.0


@st.composite
def eeg_windows(draw, n_times=200):
    """Finite windows, any real dtype, possibly with flat (constant) channels."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 3)), n_times)
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32]))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.standard_normal(shape) * scale
    if draw(st.booleans()):
        X[:, draw(st.integers(0, shape[1] - 1))] = 0.5 * scale  # a flat channel
    return X.astype(dtype) if dtype != np.int32 else (X * 1000 / scale).astype(dtype)


@SLOW
@given(
    X=eeg_windows(),
    hostile=st.sampled_from(
        [
            None,
            "X",
            "sfreq",
            "bands",
            "smoothing",
            "out_sfreq",
            "lags",
            "envelope",
            "layout",
            "dtype",
        ]
    ),
    data=st.data(),
)
def test_envelope_extractor_output_or_named_error(X, hostile, data):
    params = {
        "sfreq": EEG_SFREQ,
        "bands": {"alpha": (8.0, 13.0), "beta": (13.0, 30.0)},
        "smoothing": 0.5,
        "out_sfreq": 5.0,
    }
    hostile_values = {
        "X": st.sampled_from(
            [
                np.full((2, 2, 200), np.nan),
                np.full((2, 2, 200), np.inf),
                np.zeros((0, 2, 200)),
                np.zeros((2, 0, 200)),
                np.zeros((2, 200)),
                np.zeros((2, 2, 200), dtype=complex),
                [["a"]],
            ]
        ),
        "sfreq": st.sampled_from([0.0, -1.0, np.nan, "100", 20.0]),
        "bands": st.sampled_from(
            [
                {},
                [(13.0, 8.0)],
                [(1.0, 80.0)],
                {"a": (-1.0, 4.0)},
                "alpha",
                [(4.0,)],
                [(8.0, 13.0), (8.0, 13.0)],
            ]
        ),
        "smoothing": st.sampled_from([0.0, -1.0, np.nan, 100.0, "1"]),
        "out_sfreq": st.sampled_from([0.0, np.inf, 1000.0, 1e-3]),
        "lags": st.sampled_from([[], [-1.0], [0.0, 0.0], [100.0], [[0.0]], [np.nan]]),
        "envelope": st.sampled_from(["abs", None, 1]),
        "layout": st.sampled_from(["flat", None]),
        "dtype": st.sampled_from(["int8", "float16", "junk"]),
    }
    if hostile == "X":
        X = data.draw(hostile_values["X"], label="X")
    elif hostile is not None:
        params[hostile] = data.draw(hostile_values[hostile], label=hostile)
    extractor = EnvelopeFeatureExtractor(**params)
    names = ({"bands": "band"}.get(hostile, hostile),) if hostile else ()
    features = call_or_named_error(lambda: extractor.fit_transform(X), *names, "window")
    if hostile is None:
        assert features is not None
    if features is None:
        return
    n_bands = len(extractor.bands_)
    assert features.shape[0] == np.shape(X)[0]
    if extractor.layout == "lagged":
        assert features.shape == (len(X), np.shape(X)[1] * n_bands * extractor.lags_.size)
    assert np.all(np.isfinite(features))
    np.testing.assert_array_equal(extractor.transform(X), features)


@SLOW
@given(
    X=eeg_windows(),
    hostile=st.sampled_from([None, "X", "sfreq", "hrf_model", "time_length"]),
    data=st.data(),
)
def test_hrf_convolution_output_or_named_error(X, hostile, data):
    params = {"sfreq": 2.0, "time_length": 32.0}
    if hostile == "X":
        X = data.draw(
            st.sampled_from(
                [
                    np.full((2, 2, 10), np.nan),
                    np.zeros((2, 10)),
                    np.zeros((2, 2, 1)),
                    np.zeros((0, 2, 10)),
                ]
            )
        )
    elif hostile is not None:
        params[hostile] = data.draw(
            {
                "sfreq": st.sampled_from([0.0, np.nan, None, "2"]),
                "hrf_model": st.sampled_from(["canonical", None, 3]),
                "time_length": st.sampled_from([0.0, -1.0, np.inf]),
            }[hostile]
        )
    hrf = HRFConvolution(**params)
    out = call_or_named_error(
        lambda: hrf.fit(X).transform(X), *((hostile,) if hostile else ()), "window", "sample"
    )
    if hostile is None:
        assert out is not None
    if out is not None:
        assert out.shape == (len(X), np.shape(X)[1] * hrf.kernels_.shape[0])
        assert np.all(np.isfinite(out))


@SLOW
@given(
    shape=st.tuples(st.integers(0, 6), st.integers(0, 4)),
    method=st.sampled_from(["mean", "projection", "median"]),
    data=st.data(),
)
def test_common_mode_splitter_round_trips_or_names_the_problem(shape, method, data):
    y = data.draw(arrays(shape), label="y")
    splitter = CommonModeSplitter(method=method)
    split = call_or_named_error(
        lambda: splitter.fit_transform(y),
        "method",
        "sample",
        "feature",
        "NaN",
        "infinity",
        "common mode",
    )
    if split is None:
        return
    assert split.shape == (shape[0], shape[1] + 1)
    np.testing.assert_allclose(
        splitter.inverse_transform(split),
        y.astype(float),
        rtol=1e-6,
        atol=1e-6 * max(1.0, np.abs(y).max()),
    )


@pytest.mark.parametrize(
    "hostile",
    [
        None,
        "nan X",
        "constant y",
        "one window",
        "y rows",
        "channel names",
        "sfreq",
        "window length",
    ],
)
def test_regressor_fits_or_names_the_problem(hostile):
    # Each fit takes a second: every case once rather than a random draw.
    rng = np.random.default_rng(0)
    eeg = rng.standard_normal((3, 3000))
    bold = rng.standard_normal((12, 2))
    rec = Recording(
        eeg, bold, 2.0 + 2.0 * np.arange(12), sfreq=EEG_SFREQ, ch_names=["Fz", "Cz", "Pz"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        windows = make_windows(rec, window=2.0, sfreq=50.0)
    X, y, X_new = windows.X, windows.y, windows.X
    if hostile == "nan X":
        X = np.asarray(X)
        X[0, 0, 0] = np.nan
    elif hostile == "constant y":
        y = np.ones_like(y)
    elif hostile == "one window":
        X, y = X[:1], y[:1]
    elif hostile == "y rows":
        y = y[:-1]
    elif hostile == "channel names":
        X_new = X[:]
        X_new.ch_names = ["Oz", "Cz", "Pz"]
    elif hostile == "sfreq":
        X_new = X[:]
        X_new.sfreq = 100.0
    elif hostile == "window length":
        X_new = np.asarray(X)[:, :, :-10]
    reg = EEG2BoldRegressor(
        CompactNet,
        module__n_branches=2,
        module__n_lags=2,
        max_epochs=1,
        batch_size=8,
        train_split=None,
        random_state=0,
    )
    names = {
        "nan X": ("X",),
        "constant y": ("y",),
        "one window": ("window", "sample", "y"),
        "y rows": ("y",),
        "channel names": ("channels",),
        "sfreq": ("Hz",),
        "window length": ("shape", "samples"),
    }.get(hostile, ())
    pred = call_or_named_error(lambda: reg.fit(X, y).predict(X_new), *names)
    if hostile is None:
        assert pred is not None
    if pred is not None:
        assert pred.shape == np.shape(y) and np.all(np.isfinite(pred))


@pytest.mark.parametrize(
    "mismatch", ["channel names", "channel order", "sfreq", "n_channels", "window length"]
)
def test_fit_predict_mismatch_is_caught_by_the_baselines(mismatch):
    rng = np.random.default_rng(0)
    rec = Recording(
        rng.standard_normal((3, 6000)),
        rng.standard_normal((25, 2)),
        2.0 + 2.0 * np.arange(25),
        sfreq=EEG_SFREQ,
        ch_names=["Fz", "Cz", "Pz"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        X = make_windows(rec, window=4.0).X
    y = np.random.default_rng(1).standard_normal((len(X), 2))
    for model in (
        make_ridge_baseline(bands={"alpha": (8.0, 13.0)}),
        make_hrf_baseline(bands={"alpha": (8.0, 13.0)}),
    ):
        model.fit(X, y)
        X_new = X[:]
        if mismatch == "channel names":
            X_new.ch_names = ["Fz", "Cz", "Oz"]
        elif mismatch == "channel order":
            X_new.ch_names = ["Cz", "Fz", "Pz"]
        elif mismatch == "sfreq":
            X_new.sfreq = 2 * EEG_SFREQ
        elif mismatch == "n_channels":
            X_new = np.asarray(X)[:, :2]
        else:
            X_new = np.asarray(X)[:, :, 50:]
        if mismatch == "channel order":
            # Named channels in another order are put back in the fitted
            # order: labelling row 0 "Cz" means Cz's data is in row 0.
            swapped = Recording(
                rec.eeg[[1, 0, 2]],
                rec.bold,
                rec.volume_times,
                sfreq=EEG_SFREQ,
                ch_names=rec.ch_names,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DroppedWindowsWarning)
                expected = model.predict(make_windows(swapped, window=4.0).X)
            np.testing.assert_allclose(model.predict(X_new), expected, rtol=1e-6)
            continue
        with pytest.raises(ValueError, match="channel|Hz|features|samples"):
            model.predict(X_new)
