"""Leak-free splitters for overlapping EEG windows.

Consecutive windows overlap by most of their length (a 10 s window every
~2 s) and BOLD is smooth over ~20 s, so a random or plain K-fold split puts
nearly identical samples on both sides and reports optimistic scores. The
splitters here keep train and test apart in time within each subject.

Every splitter needs each window's end time. It reads it from ``X.times``
when ``X`` is an :class:`~skeeg2bold.EEGWindows` (what :func:`make_windows`
returns), which survives sklearn's indexing inside ``cross_validate`` and
nested searches, or from the ``times`` given to the constructor for plain
arrays. Subjects come from ``groups`` (or ``X.groups``), and the window
length from ``X.n_times / X.sfreq`` (or ``window=`` for plain arrays): a
splitter that assumed 10 s windows on 30 s ones would let training windows
overlap test windows.

``gap`` means the same in every splitter (and in the network's validation
split, :class:`~skeeg2bold.nn.TimeBlockedValidSplit`): the seconds of
recording between the EEG of a training window and the EEG of a held-out
window of the same subject, on top of their not overlapping. The end times
of two such windows are at least ``window + gap`` apart.
"""

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from .._constants import HEMODYNAMIC_MEMORY
from .._validation import check_int, check_positive, check_real_array, check_subject_labels

__all__ = ["LastBlockSplit", "PaperProtocolSplit", "TimeBlockedSplit"]


class _TimeAwareSplitter(BaseCrossValidator):
    """Shared plumbing: resolve times and groups, enforce consistent lengths."""

    # Route ``groups`` to ``split`` under sklearn's metadata routing, as the
    # Group* splitters do.
    __metadata_request__split = {"groups": True}

    def _window(self, X, *, required=True):
        """Window length (s): read from an EEGWindows X, which ``window`` must not
        contradict; ``window`` for plain arrays (an error if needed and None)."""
        x_window = None
        n_times, sfreq = getattr(X, "n_times", None), getattr(X, "sfreq", None)
        if n_times is not None and sfreq is not None:
            x_window = n_times / sfreq
        if self.window is None:
            if x_window is None and required:
                raise ValueError(
                    f"{type(self).__name__} needs the window length: pass X from "
                    "make_windows (an EEGWindows knows it) or window= in seconds."
                )
            return x_window
        window = check_positive(self.window, "window")
        # make_windows rounds the window to whole samples.
        if x_window is not None and abs(window - x_window) > 0.5 / sfreq + 1e-9:
            raise ValueError(
                f"window={window:g} s contradicts the windows of X ({n_times} samples at "
                f"{sfreq:g} Hz: {x_window:g} s); leave window=None to read it from X."
            )
        return window

    def _resolve(self, X, groups):
        n = _num_windows(X)
        if getattr(X, "times", None) is not None:
            times = check_real_array(X.times, "X.times")
        elif self.times is not None:
            times = check_real_array(self.times, "times")
        else:
            raise ValueError(
                f"{type(self).__name__} needs each window's end time: pass X from "
                "make_windows (an EEGWindows carries .times) or times= to the constructor."
            )
        if times.shape != (n,):
            raise ValueError(
                f"times has shape {times.shape} but X has {n} windows; when X is "
                "indexed (e.g. in a nested search) pass X as an EEGWindows so the "
                "times follow the rows."
            )
        if not np.all(np.isfinite(times)):
            raise ValueError("times contains NaN or infinite values.")
        return times, resolve_groups(X, groups)

    def _reach(self, X):
        """Least distance (s) between the end times of a training and a held-out window."""
        gap = check_positive(self.gap, "gap", allow_zero=True)
        return self._window(X) + gap


class TimeBlockedSplit(_TimeAwareSplitter):
    """K contiguous time blocks per subject, with a purge gap.

    Fold ``k`` tests on the ``k``-th block (in time) of every subject and trains
    on the windows of the same subjects whose EEG ends at least ``gap``
    seconds before the block's first window starts, or starts ``gap``
    seconds after its last one ends. With the default gap (the hemodynamic
    memory) no training window overlaps a test window in time, and neither
    shares BOLD that still reflects the other's EEG.

    Parameters
    ----------
    n_splits : int, default=5
        Number of blocks per subject (>= 2).
    window : float, default=None
        Length of each EEG window in seconds. ``None`` reads it from X (an
        :class:`~skeeg2bold.EEGWindows`); a value that contradicts X's
        windows is refused. Required for plain arrays.
    gap : float, default=16.0
        Seconds of recording between the EEG of any training window and any
        test window of the same subject (their end times are ``window + gap``
        apart at least). The default, the HRF's memory, is the least that
        keeps both the EEG spans and the hemodynamic responses apart.
    times : array-like of shape (n_windows,), default=None
        Window end times, for plain-array X (ignored when X carries ``times``).

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.model_selection import TimeBlockedSplit
    >>> times = np.arange(10.0, 300.0, 2.0)
    >>> cv = TimeBlockedSplit(n_splits=3, window=10.0, times=times)
    >>> [(len(tr), len(te)) for tr, te in cv.split(np.zeros((times.size, 1)))]
    [(84, 49), (73, 48), (85, 48)]
    """

    def __init__(self, n_splits=5, *, window=None, gap=HEMODYNAMIC_MEMORY, times=None):
        self.n_splits = n_splits
        self.window = window
        self.gap = gap
        self.times = times

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` index arrays."""
        n_splits = check_int(self.n_splits, "n_splits", min_value=2)
        times, groups = self._resolve(X, groups)
        reach = self._reach(X)
        blocks = np.empty(times.shape[0], dtype=int)
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            if idx.size < n_splits:
                raise ValueError(
                    f"subject {g!r} has {idx.size} windows, fewer than n_splits={n_splits}."
                )
            order = idx[np.argsort(times[idx], kind="stable")]
            for k, part in enumerate(np.array_split(order, n_splits)):
                blocks[part] = k
        for k in range(n_splits):
            test = blocks == k
            yield _purged_train(times, groups, test, reach, f"fold {k}"), np.flatnonzero(test)

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover
        for _, test in self.split(X, y, groups):
            yield test


class LastBlockSplit(_TimeAwareSplitter):
    """Hold out the final stretch of every subject's windows, with a gap.

    One split: within each subject the last ``test_size`` fraction of
    windows in time (at least one) is the test block, and training keeps the
    subject's windows whose EEG ends at least ``gap`` seconds before the
    block's first window starts. The network's validation split
    (:class:`~skeeg2bold.nn.TimeBlockedValidSplit`) and
    :func:`~skeeg2bold.model_selection.chance_level` are built on it.

    Parameters
    ----------
    test_size : float, default=0.1
        Fraction of each subject's windows held out, in (0, 1).
    window : float, default=None
        Length of each EEG window in seconds. ``None`` reads it from X (an
        :class:`~skeeg2bold.EEGWindows`); a value that contradicts X's
        windows is refused. Required for plain arrays.
    gap : float, default=16.0
        Seconds of recording between the EEG of the last training window and
        the first test window of a subject (the HRF's memory by default).
    times : array-like of shape (n_windows,), default=None
        Window end times, for plain-array X (ignored when X carries ``times``).

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.model_selection import LastBlockSplit
    >>> times = np.arange(10.0, 300.0, 2.0)
    >>> cv = LastBlockSplit(0.2, window=10.0, times=times)
    >>> [(len(tr), len(te)) for tr, te in cv.split(np.zeros((times.size, 1)))]
    [(104, 29)]
    """

    def __init__(self, test_size=0.1, *, window=None, gap=HEMODYNAMIC_MEMORY, times=None):
        self.test_size = test_size
        self.window = window
        self.gap = gap
        self.times = times

    def get_n_splits(self, X=None, y=None, groups=None):
        return 1

    def split(self, X, y=None, groups=None):
        """Yield one ``(train, test)`` pair of index arrays."""
        test_size = check_positive(self.test_size, "test_size")
        if test_size >= 1:
            raise ValueError(f"test_size must be in (0, 1), got {self.test_size!r}.")
        times, groups = self._resolve(X, groups)
        reach = self._reach(X)
        test = np.zeros(times.shape[0], dtype=bool)
        for g in np.unique(groups):
            own = np.flatnonzero(groups == g)
            own = own[np.argsort(times[own], kind="stable")]
            test[own[-max(int(np.ceil(test_size * own.size)), 1) :]] = True
        yield _purged_train(times, groups, test, reach, "the split"), np.flatnonzero(test)

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover
        for _, test in self.split(X, y, groups):
            yield test


class PaperProtocolSplit(_TimeAwareSplitter):
    """The paper's protocol: other subjects + the start of the target subject.

    For each target subject, train on every window of the other subjects and
    on the target subject's windows inside its first ``train`` seconds; the
    next ``valid`` seconds are held out for validation (early stopping), and
    the test set is the windows inside the following ``test`` seconds (the
    paper: 68.7 s, 60 s and 150 s). Parts are measured from the start of the
    subject's first window. A window belongs to a part only if its whole EEG
    span ``[t - window, t]`` lies inside that part, so no window straddles two
    parts; an extra ``gap`` can widen the separation.

    ``split`` yields ``(train, test)`` for ``cross_validate``/``GridSearchCV``;
    :meth:`split_with_validation` yields ``(train, valid, test)``.

    Parameters
    ----------
    train, valid, test : float, default=68.7, 60.0, 150.0
        Durations in seconds of the target subject's three parts.
    window : float, default=None
        Length of each EEG window in seconds. ``None`` reads it from X (an
        :class:`~skeeg2bold.EEGWindows`); a value that contradicts X's
        windows is refused. Required for plain arrays.
    gap : float, default=0.0
        Extra seconds dropped at each internal boundary.
    subjects : list, default=None
        Target subjects, one split each; all subjects (sorted) if None.
    times : array-like of shape (n_windows,), default=None
        Window end times, for plain-array X (ignored when X carries ``times``).
    """

    def __init__(
        self, *, train=68.7, valid=60.0, test=150.0, window=None, gap=0.0, subjects=None, times=None
    ):
        self.train = train
        self.valid = valid
        self.test = test
        self.window = window
        self.gap = gap
        self.subjects = subjects
        self.times = times

    def get_n_splits(self, X=None, y=None, groups=None):
        if self.subjects is not None:
            return len(self.subjects)
        if groups is None:
            groups = getattr(X, "groups", None)
        if groups is None:
            raise ValueError(
                "PaperProtocolSplit needs groups (the subject of each window) to "
                "count its splits; pass groups= or X from make_windows."
            )
        return len(np.unique(groups))

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)``; the validation windows are in neither."""
        for train, _, test in self.split_with_validation(X, y, groups):
            yield train, test

    def split_with_validation(self, X, y=None, groups=None):
        """Yield ``(train, valid, test)`` index arrays, one triple per target subject."""
        durations = [check_positive(getattr(self, n), n) for n in ("train", "valid", "test")]
        gap = check_positive(self.gap, "gap", allow_zero=True)
        times, groups = self._resolve(X, groups)
        if isinstance(self.subjects, str):
            raise TypeError(
                f"subjects must be a list of subjects, got a single string {self.subjects!r}."
            )
        subjects = np.unique(groups) if self.subjects is None else list(self.subjects)
        # Subjects compared as text, as everywhere in the package: 1 and "1" are one.
        labels = check_subject_labels(groups, len(groups))
        if len(np.unique(labels)) < 2:
            raise ValueError("PaperProtocolSplit needs windows of at least two subjects.")
        window = self._window(X)
        starts = times - window
        for subject in subjects:
            own = labels == check_subject_labels(np.array([subject], dtype=object), 1)[0]
            if not own.any():
                raise ValueError(
                    f"subject {subject!r} has no windows; subjects present: "
                    f"{np.unique(groups).tolist()}."
                )
            t0 = starts[own].min()
            edges = t0 + np.cumsum([0.0] + durations)
            parts = []
            for k in range(3):
                lo = edges[k] + (gap if k > 0 else 0.0)
                hi = edges[k + 1]
                parts.append(np.flatnonzero(own & (starts >= lo - 1e-9) & (times <= hi + 1e-9)))
            train_own, valid, test = parts
            for name, part in zip(("train", "valid", "test"), parts):
                if part.size == 0:
                    raise ValueError(
                        f"subject {subject!r} has no {name} window: its recording spans "
                        f"{t0:.1f}-{times[own].max():.1f} s, the {name} part is "
                        f"{durations[['train', 'valid', 'test'].index(name)]:g} s and each "
                        f"window is {window:g} s."
                    )
            train = np.union1d(np.flatnonzero(~own), train_own)
            yield train, valid, test

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover
        for _, test in self.split(X, y, groups):
            yield test


def resolve_groups(X, groups, n=None):
    """The subject of each window: ``groups``, else ``X.groups``, else one subject.

    Returns an ndarray of shape ``(n,)`` (``n`` defaults to the number of
    windows of X); refuses another shape and NaN subjects.
    """
    n = _num_windows(X) if n is None else n
    if groups is None:
        groups = getattr(X, "groups", None)
    if groups is None:
        return np.zeros(n, dtype=int)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups has shape {groups.shape} but X has {n} windows.")
    if groups.dtype.kind == "f" and not np.all(np.isfinite(groups)):
        # NaN != NaN: a NaN subject would match none of its own windows.
        raise ValueError("groups contains NaN or infinite values.")
    return groups


def _purged_train(times, groups, test, reach, what):
    """Training rows: not in ``test`` and, per subject, ``reach`` s clear of its test span."""
    train = ~test
    for g in np.unique(groups[test]):
        own = groups == g
        t_test = times[test & own]
        train &= ~(own & (times > t_test.min() - reach) & (times < t_test.max() + reach))
    train = np.flatnonzero(train)
    if train.size == 0:
        raise ValueError(
            f"{what} has no training window left after the purge of {reach:g} s (window + "
            "gap) around the held-out windows; use a smaller gap, fewer splits or held-out "
            "windows, or longer recordings."
        )
    return train


def _num_windows(X):
    if X is None:
        raise ValueError("X is required to split: the splitters need the number of windows.")
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        n = int(shape[0])
    elif hasattr(X, "__len__") and shape is None:
        n = len(X)
    else:
        raise TypeError(f"X must be array-like with one row per window, got {type(X).__name__}.")
    if n == 0:
        raise ValueError("X has no windows to split.")
    return n
