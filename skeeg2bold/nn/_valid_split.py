"""Validation splits for training, in skorch's ``train_split`` interface.

The time-aware split is :class:`~skeeg2bold.model_selection.LastBlockSplit`;
:class:`TimeBlockedValidSplit` adapts it to skorch (a dataset in, two
``Subset`` out) and to plain arrays (rows in time order).
"""

import numpy as np
from torch.utils.data import Subset

from .._validation import check_int, check_positive
from ..model_selection import LastBlockSplit

__all__ = ["PredefinedValidSplit", "TimeBlockedValidSplit"]


class TimeBlockedValidSplit:
    """Hold out the last part of every subject's recording for validation.

    skorch's default ``ValidSplit`` draws validation windows at random;
    overlapping EEG windows and slow BOLD make such a split leak (the
    validation windows have near-twins in training), so early stopping
    would watch an optimistic score. Here, within each subject, the final
    ``valid_size`` fraction of windows in time is the validation block, and
    training windows stop early enough that their EEG does not overlap a
    validation window and ``gap`` more seconds separate them (BOLD memory).

    Times, window length and subjects come from ``X.times``, ``X.n_times /
    X.sfreq`` and ``X.groups`` when ``X`` is an :class:`~skeeg2bold.EEGWindows`.
    For a plain array, windows are taken in row order and ``n_gap`` rows
    are skipped before each validation block; subjects come from a
    ``groups`` fit parameter, else all rows are one subject.

    Parameters
    ----------
    valid_size : float, default=0.1
        Fraction of each subject's windows held out (at least one window).
    gap : float, default=0.0
        Seconds of recording between the EEG of the last training window and
        of the first validation window (EEGWindows input), as ``gap`` of the
        :mod:`~skeeg2bold.model_selection` splitters. With 0 they share no EEG
        sample; ``16.0`` also keeps the BOLD memory apart, at the price of
        fewer training windows (the validation score only steers early
        stopping, so the default keeps the data).
    n_gap : int, default=8
        Rows skipped before each validation block (plain-array input).

    Examples
    --------
    >>> from skeeg2bold.nn import EEG2BoldRegressor, TimeBlockedValidSplit
    >>> reg = EEG2BoldRegressor(train_split=TimeBlockedValidSplit(valid_size=0.2))
    """

    def __init__(self, valid_size=0.1, *, gap=0.0, n_gap=8):
        self.valid_size = valid_size
        self.gap = gap
        self.n_gap = n_gap

    def get_params(self, deep=True):
        return {"valid_size": self.valid_size, "gap": self.gap, "n_gap": self.n_gap}

    def __repr__(self):
        return (
            f"TimeBlockedValidSplit(valid_size={self.valid_size!r}, gap={self.gap!r}, "
            f"n_gap={self.n_gap!r})"
        )

    def split_indices(self, X, groups=None):
        """Return ``(train, valid)`` row indices for windows ``X``."""
        if not 0 < check_positive(self.valid_size, "valid_size") < 1:
            raise ValueError(f"valid_size must be in (0, 1), got {self.valid_size!r}.")
        if getattr(X, "times", None) is not None:
            split = LastBlockSplit(self.valid_size, gap=self.gap)
        else:
            # Plain arrays: rows in time order, each one "window" long, so
            # training stops n_gap rows before each validation block.
            n_gap = check_int(self.n_gap, "n_gap", min_value=0)
            split = LastBlockSplit(
                self.valid_size, window=1.0, gap=n_gap, times=np.arange(len(X), dtype=float)
            )
        return next(split.split(X, groups=groups))

    def __call__(self, dataset, y=None, groups=None):
        train, valid = self.split_indices(dataset.X, groups)
        return Subset(dataset, train), Subset(dataset, valid)


class PredefinedValidSplit:
    """Validate on given rows of the training data, e.g. a protocol's validation part.

    The paper's protocol fixes its validation data (the 60 s after the
    target subject's training part). Fit on the training and validation
    windows together and name the validation rows here; the network trains on
    the others and early stopping watches these.

    Parameters
    ----------
    valid_indices : array-like of int
        Rows of the ``X`` given to ``fit`` used for validation only.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.nn import EEG2BoldRegressor, PredefinedValidSplit
    >>> rows = np.r_[train, valid]  # doctest: +SKIP
    >>> split = PredefinedValidSplit(np.arange(len(train), len(rows)))  # doctest: +SKIP
    >>> reg = EEG2BoldRegressor(train_split=split)  # doctest: +SKIP
    >>> reg.fit(X[rows], y[rows])  # doctest: +SKIP
    """

    def __init__(self, valid_indices):
        self.valid_indices = valid_indices

    def get_params(self, deep=True):
        return {"valid_indices": self.valid_indices}

    def __repr__(self):
        return f"PredefinedValidSplit(<{len(self.valid_indices)} validation rows>)"

    def split_indices(self, X, groups=None):
        """Return ``(train, valid)`` row indices for windows ``X``."""
        n = len(X)
        valid = np.unique(np.asarray(self.valid_indices))
        if valid.size == 0 or valid.dtype.kind not in "iu":
            raise ValueError("valid_indices must be a non-empty array of integer row indices.")
        if valid.min() < 0 or valid.max() >= n:
            raise ValueError(
                f"valid_indices must lie in [0, {n}) for the {n} windows given to fit, "
                f"got range [{valid.min()}, {valid.max()}]."
            )
        train = np.setdiff1d(np.arange(n), valid)
        if train.size == 0:
            raise ValueError("valid_indices covers every window; no training window is left.")
        return train, valid

    def __call__(self, dataset, y=None, groups=None):
        train, valid = self.split_indices(dataset.X, groups)
        return Subset(dataset, train), Subset(dataset, valid)
