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
    for (train, valid, test), subject in zip(cv.split_with_validation(X, groups=groups),
                                             np.unique(groups)):
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
    (train, valid, test), = cv.split_with_validation(np.zeros((times2.size, 1)), groups=groups)
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
        recs.append(Recording(eeg, rng.standard_normal((150, 2)), onsets, sfreq=100.0,
                              ch_names=["Cz", "Pz"], subject=f"s{s}"))
    with pytest.warns(UserWarning):
        data = make_windows(recs, window=5.0)

    class Flatten(Ridge):
        def fit(self, X, y):
            return super().fit(np.asarray(X)[:, :, ::50].reshape(len(X), -1), y)

        def predict(self, X):
            return super().predict(np.asarray(X)[:, :, ::50].reshape(len(X), -1))

    for cv in (PaperProtocolSplit(window=5.0), TimeBlockedSplit(3, window=5.0)):
        res = cross_validate(Flatten(), data.X, data.y, groups=data.groups, cv=cv,
                             scoring=mean_r_scorer)
        assert len(res["test_score"]) == 3 and np.all(np.isfinite(res["test_score"]))
    # Nested: the inner search receives an indexed EEGWindows whose times follow the rows.
    search = GridSearchCV(Flatten(), {"alpha": [1.0, 10.0]}, cv=TimeBlockedSplit(2, window=5.0),
                          scoring=mean_r_scorer)
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
        next(PaperProtocolSplit(window=10.0, times=np.r_[short, short]).split(
            np.zeros((2 * short.size, 1)), groups=np.repeat([0, 1], short.size)))
    with pytest.raises(ValueError, match="gap must be"):
        next(TimeBlockedSplit(gap=-1.0, times=np.arange(20.0)).split(X))
