import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate

from skeeg2bold import Recording, make_windows
from skeeg2bold.metrics import mean_r_scorer
from skeeg2bold.model_selection import PaperProtocolSplit, TimeBlockedSplit


def _times_and_groups(n_subjects, duration, tr, window, jitter, seed):
    rng = np.random.default_rng(seed)
    times, groups = [], []
    for s in range(n_subjects):
        t = window + tr * np.arange(int((duration - window) / tr))
        t = t + rng.uniform(0, jitter, t.size)
        times.append(np.sort(t))
        groups += [f"sub{s}"] * t.size
    return np.concatenate(times), np.array(groups)


def _assert_no_overlap(times, groups, train, test, window, min_gap=0.0):
    for g in np.unique(groups[test]):
        tr = train[groups[train] == g]
        te = test[groups[test] == g]
        if tr.size == 0:
            continue
        # Spans [t - window, t]: no train span may come within min_gap of a test span.
        d = np.abs(times[tr][:, None] - times[te][None, :])
        assert d.min() >= window + min_gap - 1e-9


@settings(max_examples=40, deadline=None)
@given(
    n_subjects=st.integers(1, 3),
    duration=st.floats(150.0, 400.0),
    tr=st.floats(0.5, 2.5),
    window=st.floats(2.0, 12.0),
    n_splits=st.integers(2, 4),
    jitter=st.floats(0.0, 0.3),
    seed=st.integers(0, 1000),
)
def test_time_blocked_split_never_overlaps(
    n_subjects, duration, tr, window, n_splits, jitter, seed
):
    times, groups = _times_and_groups(n_subjects, duration, tr, window, jitter, seed)
    cv = TimeBlockedSplit(n_splits=n_splits, window=window, times=times)
    X = np.zeros((times.size, 1))
    tested = np.zeros(times.size, int)
    for train, test in cv.split(X, groups=groups):
        assert np.intersect1d(train, test).size == 0
        _assert_no_overlap(times, groups, train, test, window, min_gap=16.0)
        tested[test] += 1
    assert np.all(tested == 1)  # every window is tested exactly once


@settings(max_examples=40, deadline=None)
@given(
    n_subjects=st.integers(2, 4),
    duration=st.floats(285.0, 320.0),
    tr=st.floats(1.0, 2.5),
    window=st.floats(2.0, 10.0),
    gap=st.floats(0.0, 5.0),
    seed=st.integers(0, 1000),
)
def test_paper_protocol_parts_are_disjoint_in_time(n_subjects, duration, tr, window, gap, seed):
    times, groups = _times_and_groups(n_subjects, duration, tr, window, 0.1, seed)
    cv = PaperProtocolSplit(window=window, gap=gap, times=times)
    X = np.zeros((times.size, 1))
    assert cv.get_n_splits(X, groups=groups) == n_subjects
    for (train, valid, test), subject in zip(
        cv.split_with_validation(X, groups=groups), np.unique(groups)
    ):
        own = groups == subject
        assert set(groups[test]) == {subject} and set(groups[valid]) == {subject}
        assert np.all(~own[train] | (times[train] <= times[own].min() - window + 68.7 + 1e-9))
        assert np.all(groups[train][~own[train]] != subject)
        for a, b in ((train, valid), (valid, test), (train, test)):
            _assert_no_overlap(times, groups, a, b, window, min_gap=gap)
        t0 = times[own].min() - window
        assert times[test].max() <= t0 + 278.7 + 1e-9
        assert (times[valid] - window).min() >= t0 + 68.7 + gap - 1e-9


def test_paper_protocol_matches_hand_computed_parts():
    times = np.arange(10.0, 300.0, 2.0)  # window 10 s: spans start at 0 s
    groups = np.repeat(["a", "b"], times.size)
    times2 = np.r_[times, times]
    cv = PaperProtocolSplit(window=10.0, times=times2, subjects=["b"])
    ((train, valid, test),) = cv.split_with_validation(np.zeros((times2.size, 1)), groups=groups)
    own_t = times2[train][groups[train] == "b"]
    assert own_t.min() == 10.0 and own_t.max() == 68.0  # ends <= 68.7
    # starts >= 68.7, ends <= 128.7
    assert times2[valid].min() == 80.0 and times2[valid].max() == 128.0
    assert times2[test].min() == 140.0 and times2[test].max() == 278.0
    assert np.sum(groups[train] == "a") == times.size


def test_splitters_read_times_from_windows_inside_cross_validate():
    rng = np.random.default_rng(0)
    recs = []
    for s in range(3):
        eeg = rng.standard_normal((2, 100 * 300))
        onsets = 1.0 + 1.95 * np.arange(150)
        recs.append(
            Recording(
                eeg,
                rng.standard_normal((150, 2)),
                onsets,
                sfreq=100.0,
                ch_names=["Cz", "Pz"],
                subject=f"s{s}",
            )
        )
    with pytest.warns(UserWarning):
        data = make_windows(recs, window=5.0)

    class Flatten(Ridge):
        def fit(self, X, y):
            return super().fit(np.asarray(X)[:, :, ::50].reshape(len(X), -1), y)

        def predict(self, X):
            return super().predict(np.asarray(X)[:, :, ::50].reshape(len(X), -1))

    for cv in (PaperProtocolSplit(window=5.0), TimeBlockedSplit(3, window=5.0)):
        res = cross_validate(
            Flatten(), data.X, data.y, groups=data.groups, cv=cv, scoring=mean_r_scorer
        )
        assert len(res["test_score"]) == 3 and np.all(np.isfinite(res["test_score"]))
    # Nested: the inner search receives an indexed EEGWindows whose times follow the rows.
    search = GridSearchCV(
        Flatten(), {"alpha": [1.0, 10.0]}, cv=TimeBlockedSplit(2, window=5.0), scoring=mean_r_scorer
    )
    cross_validate(search, data.X, data.y, groups=data.groups, cv=GroupKFold(3))


def test_splitter_errors():
    X = np.zeros((20, 1))
    with pytest.raises(ValueError, match="needs each window's end time"):
        next(TimeBlockedSplit().split(X))
    with pytest.raises(ValueError, match="times has shape"):
        next(TimeBlockedSplit(times=np.arange(10.0)).split(X))
    with pytest.raises(ValueError, match="n_splits must be"):
        next(TimeBlockedSplit(1, times=np.arange(20.0)).split(X))
    with pytest.raises(ValueError, match="at least two subjects"):
        next(PaperProtocolSplit(times=np.arange(20.0)).split(X, groups=np.zeros(20)))
    short = np.arange(10.0, 100.0, 2.0)
    with pytest.raises(ValueError, match="no test window"):
        next(
            PaperProtocolSplit(window=10.0, times=np.r_[short, short]).split(
                np.zeros((2 * short.size, 1)), groups=np.repeat([0, 1], short.size)
            )
        )
    with pytest.raises(ValueError, match="gap must be"):
        next(TimeBlockedSplit(gap=-1.0, times=np.arange(20.0)).split(X))


# -- one splitter family: the network's validation split and the chance level --
class _Windows:
    """What the splitters read from an EEGWindows: times, window length, subjects."""

    def __init__(self, times, groups, n_times=200, sfreq=100.0):
        self.times, self.groups = np.asarray(times), np.asarray(groups)
        self.n_times, self.sfreq = n_times, sfreq
        self.shape = (self.times.size, 1, n_times)

    def __len__(self):
        return self.times.size


def _reference_valid_split(X, valid_size, gap, n_gap, groups=None):
    """The network's validation split as it was written before it used LastBlockSplit."""
    n = len(X)
    times = getattr(X, "times", None)
    if times is not None:
        order_key = np.asarray(times, dtype=float)
        margin = X.n_times / X.sfreq + gap
    else:
        order_key = np.arange(n, dtype=float)
        margin = n_gap + 0.5
    if groups is None:
        groups = getattr(X, "groups", None)
    groups = np.zeros(n, dtype=int) if groups is None else np.asarray(groups)
    train, valid = [], []
    for subject in np.unique(groups):
        own = np.flatnonzero(groups == subject)
        own = own[np.argsort(order_key[own], kind="stable")]
        held = own[-max(int(np.ceil(valid_size * own.size)), 1) :]
        train.append(own[order_key[own] <= order_key[held].min() - margin])
        valid.append(held)
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))


@pytest.mark.parametrize("valid_size", [0.1, 0.25, 0.5])
@pytest.mark.parametrize("gap", [0.0, 5.0, 16.0])
@pytest.mark.parametrize("layout", ["sorted", "shuffled", "ties"])
def test_network_validation_split_keeps_its_rows(valid_size, gap, layout):
    from skeeg2bold.nn import TimeBlockedValidSplit

    times, groups = _times_and_groups(3, 200.0, 1.95, 2.0, 0.3, seed=int(gap))
    if layout == "ties":
        times = np.round(times / 4.0) * 4.0  # pairs of windows end together
    if layout != "sorted":
        rows = np.random.default_rng(1).permutation(times.size)
        times, groups = times[rows], groups[rows]
    X = _Windows(times, groups)
    split = TimeBlockedValidSplit(valid_size, gap=gap)
    for got, expected in zip(split.split_indices(X), _reference_valid_split(X, valid_size, gap, 8)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n_gap", [0, 3, 8])
@pytest.mark.parametrize("groups", [None, np.repeat([0, 1, 2], [40, 25, 35])])
def test_network_validation_split_keeps_its_rows_for_plain_arrays(n_gap, groups):
    from skeeg2bold.nn import TimeBlockedValidSplit

    X = np.zeros((100, 2, 5))
    split = TimeBlockedValidSplit(0.2, n_gap=n_gap)
    for got, expected in zip(
        split.split_indices(X, groups), _reference_valid_split(X, 0.2, 0.0, n_gap, groups)
    ):
        np.testing.assert_array_equal(got, expected)


def _reference_time_blocked(times, groups, n_splits, end_distance):
    """TimeBlockedSplit as it was, its gap then the least distance between end times."""
    blocks = np.empty(times.size, dtype=int)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        order = idx[np.argsort(times[idx], kind="stable")]
        for k, part in enumerate(np.array_split(order, n_splits)):
            blocks[part] = k
    for k in range(n_splits):
        train = blocks != k
        for g in np.unique(groups):
            t_test = times[(blocks == k) & (groups == g)]
            train &= ~(
                (groups == g)
                & (times > t_test.min() - end_distance)
                & (times < t_test.max() + end_distance)
            )
        yield np.flatnonzero(train), np.flatnonzero(blocks == k)


@pytest.mark.parametrize("gap", [0.0, 4.0, 16.0])
@pytest.mark.parametrize("window", [2.0, 10.0])
def test_time_blocked_gap_counts_from_the_window_edges(gap, window):
    # gap means what it means in the other splitters: seconds between EEG spans.
    times, groups = _times_and_groups(2, 300.0, 2.0, window, 0.5, seed=3)
    X = np.zeros((times.size, 1))
    folds = TimeBlockedSplit(3, window=window, gap=gap, times=times).split(X, groups=groups)
    for (tr, te), (ref_tr, ref_te) in zip(
        folds, _reference_time_blocked(times, groups, 3, window + gap)
    ):
        np.testing.assert_array_equal(tr, ref_tr)
        np.testing.assert_array_equal(te, ref_te)
        _assert_no_overlap(times, groups, tr, te, window, min_gap=gap)


def test_last_block_split_holds_out_each_subjects_end():
    from skeeg2bold.model_selection import LastBlockSplit

    times, groups = _times_and_groups(2, 200.0, 2.0, 10.0, 0.0, seed=0)
    cv = LastBlockSplit(0.25, window=10.0, times=times)
    assert cv.get_n_splits() == 1
    ((train, test),) = cv.split(np.zeros((times.size, 1)), groups=groups)
    for g in np.unique(groups):
        own_train, own_test = train[groups[train] == g], test[groups[test] == g]
        assert own_test.size == np.ceil(0.25 * (groups == g).sum())
        assert times[own_test].min() - times[own_train].max() >= 10.0 + 16.0
    with pytest.raises(ValueError, match="test_size must be in"):
        next(LastBlockSplit(1.0, window=1.0, times=times).split(times, groups=groups))
    with pytest.raises(ValueError, match="no training window left"):
        next(LastBlockSplit(0.5, window=10.0, gap=500.0, times=times).split(times))


def test_chance_level_of_a_ridge_does_not_import_the_networks():
    import subprocess
    import sys

    code = """
import sys
import numpy as np
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skeeg2bold.model_selection import chance_level

rng = np.random.default_rng(0)
X, y = rng.standard_normal((120, 3, 20)), rng.standard_normal((120, 2))
model = make_pipeline(FunctionTransformer(lambda X: np.log(np.var(X, axis=2))), Ridge())
chance_level(model, X, y, n_repeats=1, random_state=0)
loaded = sorted(m for m in sys.modules if m.startswith(("skeeg2bold.nn", "torch", "skorch")))
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("groups", [[1, 1, 2, 2], ["1", "1", "2", "2"], [1.0, 1.0, 2.0, 2.0]])
@pytest.mark.parametrize("subjects", [[2], ["2"], [np.int64(2)], [2.0]])
def test_paper_protocol_subject_1_and_text_1_are_one_subject(groups, subjects):
    # Windows carry their subjects as text; a target named by number is the same subject.
    times = np.tile(np.arange(10.0, 310.0, 2.0), 2)
    groups = np.repeat(np.asarray(groups, dtype=object)[::2], 150)
    X = np.zeros((times.size, 1))
    cv = PaperProtocolSplit(window=10.0, times=times, subjects=subjects)
    (train, valid, test), *_ = cv.split_with_validation(X, groups=groups)
    target = np.arange(150, 300)
    assert np.isin(test, target).all() and np.isin(valid, target).all()
    assert np.isin(np.arange(150), train).all()
    assert test.size > 0
