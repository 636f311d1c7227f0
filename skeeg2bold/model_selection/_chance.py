"""Chance level: the same model trained and tested on temporally unrelated pairs."""

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch, check_random_state

from .._constants import HEMODYNAMIC_MEMORY
from .._validation import check_int
from ..metrics import pearson_r
from ._split import LastBlockSplit, resolve_groups

__all__ = ["chance_level"]


def chance_level(
    estimator, X, y, *, groups=None, n_repeats=5, test_size=0.3, min_shift=None, random_state=None
):
    """Per-target Pearson r of a model trained on EEG/BOLD pairs that do not belong together.

    The paper's dashed line: a surrogate with the same architecture trained on
    temporally unrelated EEG and BOLD. Within each subject the windows are
    split in time into a training block and a final test block separated by
    a gap (:class:`LastBlockSplit`), so train and test
    pairs share neither EEG nor BOLD samples. Inside each block BOLD is then
    circularly shifted against the EEG by at least ``min_shift``, which keeps
    each signal's own structure (spectra, autocorrelation, subject offsets)
    but breaks their temporal relation. A clone of ``estimator`` is fitted on
    the shifted training pairs and scored on the shifted test pairs, once per
    repeat with new random shifts.

    Parameters
    ----------
    estimator : sklearn regressor
        Any estimator taking windows ``X`` (an :class:`EEG2BoldRegressor`,
        a baseline pipeline, ...); it is cloned for every repeat.
    X : EEGWindows or ndarray of shape (n_windows, n_channels, n_times)
        Windows; an EEGWindows carries the times and subjects needed here.
    y : ndarray of shape (n_windows,) or (n_windows, n_targets)
    groups : array-like of shape (n_windows,), default=None
        Subject of each window (default ``X.groups``, else one subject).
    n_repeats : int, default=5
    test_size : float, default=0.3
        Fraction of each subject's windows in the test block.
    min_shift : float, default=None
        Smallest shift between EEG and BOLD: seconds for EEGWindows (default
        the window length plus 16 s of haemodynamic memory, so no shifted
        pair shares neural activity with its true partner), windows (rows)
        for plain arrays (default 16).
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    result : sklearn.utils.Bunch
        ``scores`` : ndarray of shape (n_repeats, n_targets) — r per repeat,
        computed within each subject's test block and averaged over subjects.
        ``mean``, ``std`` : ndarray of shape (n_targets,).
        ``upper`` : ndarray of shape (n_targets,) — 95th percentile of the
        repeats, a one-sided bound for "above chance".

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn.linear_model import Ridge
    >>> from skeeg2bold.model_selection import chance_level
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((200, 3, 20)), rng.standard_normal((200, 2))
    >>> model = make_pipeline(FunctionTransformer(lambda X: np.log(np.var(X, axis=2))), Ridge())
    >>> chance_level(model, X, y, n_repeats=2, random_state=0).scores.shape
    (2, 2)
    """
    n_repeats = check_int(n_repeats, "n_repeats", min_value=1)
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != len(X):
        raise ValueError(
            f"y must have shape (n_windows,) or (n_windows, n_targets) with "
            f"n_windows={len(X)}, got {y.shape}."
        )
    rng = check_random_state(random_state)
    times = getattr(X, "times", None)
    if times is None:
        # Plain arrays: rows in time order, one row per "second".
        times = np.arange(len(X), dtype=float)
        split = LastBlockSplit(test_size, window=1.0, times=times)
        default_shift = float(HEMODYNAMIC_MEMORY)
    else:
        times = np.asarray(times, dtype=float)
        split = LastBlockSplit(test_size)
        default_shift = X.n_times / X.sfreq + HEMODYNAMIC_MEMORY
    min_shift = default_shift if min_shift is None else float(min_shift)
    groups = resolve_groups(X, groups)
    # The haemodynamic gap (LastBlockSplit's default) keeps train and test
    # pairs apart in BOLD too.
    train, test = next(split.split(X, groups=groups))

    scores = []
    for _ in range(int(n_repeats)):
        y_shifted = y.copy()
        for block in (train, test):
            for subject in np.unique(groups[block]):
                rows = block[groups[block] == subject]
                rows = rows[np.argsort(times[rows], kind="stable")]
                y_shifted[rows] = y[
                    np.roll(rows, _draw_shift(times[rows], min_shift, rng, subject))
                ]
        model = clone(estimator).fit(X[train], y_shifted[train])
        pred = np.asarray(model.predict(X[test]))
        # Score within each subject, then average: pooled over subjects, r
        # would reward (or punish) learning each subject's BOLD offset, and a
        # zero-mean run makes its early (train) and late (test) block means
        # anti-correlated, which biases a pooled chance level below zero.
        per_subject = [
            pearson_r(y_shifted[test][own], pred[own], constant="zero")
            for own in (groups[test] == s for s in np.unique(groups[test]))
            if own.sum() > 1
        ]
        scores.append(np.mean(per_subject, axis=0))
    scores = np.asarray(scores)
    return Bunch(
        scores=scores,
        mean=scores.mean(axis=0),
        std=scores.std(axis=0),
        upper=np.percentile(scores, 95, axis=0),
    )


def _draw_shift(times, min_shift, rng, subject):
    """A circular shift (rows) of at least ``min_shift`` in time, both ways round."""
    n = times.size
    step = float(np.median(np.diff(times))) if n > 1 else 1.0
    k = int(np.ceil(min_shift / step))
    if n - k < k:
        raise ValueError(
            f"subject {subject!r} has a block of {n} windows ({n * step:.1f} s), too "
            f"short for shifts of at least min_shift={min_shift:g} both ways round; "
            "lower min_shift or test_size, or give longer recordings."
        )
    return int(rng.randint(k, n - k + 1))
