"""Per-subject references learned from EEG only: the shared machinery of
re-centring (:class:`BandCovariances`) and Euclidean alignment
(:class:`SubjectAlignment`)."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_fitted_windows, check_option
from .._windows import EEGWindows
from ._envelope import _check_windows

__all__ = ["SubjectAlignment", "SubjectReferenceMixin", "SubjectReferences", "window_groups"]

#: What a transformer does with a subject it did not see in ``fit``.
UNSEEN_OPTIONS = ("eeg", "error")
#: Fewest windows an unseen subject's reference is taken from: fewer make a
#: reference close to the windows themselves, which would whiten their
#: content away (one window re-centred at itself is the identity).
MIN_REFERENCE_WINDOWS = 10


def window_groups(X, groups, name="groups"):
    """Subject of every window: ``X.groups`` for EEGWindows, else ``groups``.

    Plain arrays without ``groups`` are one subject. ``groups`` given with
    EEGWindows must agree with the windows' own subjects.
    """
    n = len(X)
    if isinstance(X, EEGWindows):
        if groups is not None and not np.array_equal(np.asarray(groups), X.groups):
            raise ValueError(
                f"{name} disagrees with X.groups, the subjects the EEGWindows carry; "
                f"leave {name}=None to use them."
            )
        return X.groups
    if groups is None:
        return np.zeros(n, dtype=int)
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n:
        raise ValueError(
            f"{name} must be 1-D with one subject per window ({n}), got shape {groups.shape}."
        )
    return groups


class SubjectReferences:
    """Per-subject reference statistics, learned in ``fit`` from each subject's own windows.

    ``compute(stats)`` turns the per-window statistics of one subject into
    its reference. A subject seen in ``fit`` keeps the reference learned
    there; an unseen one gets a reference from the windows being transformed
    (``unseen="eeg"``: EEG only, never BOLD) or raises (``unseen="error"``).
    """

    def __init__(self, compute, unseen, owner):
        self.compute = compute
        self.unseen = check_option(unseen, UNSEEN_OPTIONS, "unseen_subjects")
        self.owner = owner
        self.references = {}

    def fit(self, groups, stats):
        self.references = {_key(g): self.compute(stats[groups == g]) for g in np.unique(groups)}
        return self

    def add(self, groups, stats):
        """Learn (or replace) the references of the subjects in ``groups``."""
        self.references.update(
            SubjectReferences(self.compute, self.unseen, self.owner).fit(groups, stats).references
        )
        return self

    def lookup(self, groups, stats):
        """``{subject: reference}`` for every subject in ``groups``."""
        out = {}
        for g in np.unique(groups):
            key = _key(g)
            if key in self.references:
                out[key] = self.references[key]
            elif self.unseen == "error":
                raise ValueError(
                    f"subject {_key(g)!r} was not seen in {self.owner}.fit (seen: "
                    f"{sorted(self.references)!r:.200}) and unseen_subjects='error'; "
                    "fit on some of its EEG or set unseen_subjects='eeg' to take its "
                    "reference from the EEG being transformed."
                )
            else:
                n = int(np.sum(groups == g))
                if n < MIN_REFERENCE_WINDOWS:
                    raise ValueError(
                        f"subject {key!r} was not seen in {self.owner}.fit and only {n} "
                        f"window(s) of its EEG were given; its reference needs at least "
                        f"{MIN_REFERENCE_WINDOWS} (a reference from a few windows whitens "
                        "their own content away). Transform more of its windows at once, "
                        "or fit on some of its EEG."
                    )
                out[key] = self.compute(stats[groups == g])
        return out


def _key(group):
    """Subjects as plain Python values, so that numpy scalars and str match."""
    return group.item() if isinstance(group, np.generic) else group


class SubjectReferenceMixin:
    """``calibrate`` and the input check of the steps with per-subject references.

    A class sets ``_references`` (a :class:`SubjectReferences` or None) in
    ``fit`` and defines ``_statistics(X)``, the per-window statistics its
    references are computed from; ``_any_length`` says whether windows of
    another length than in ``fit`` are accepted.
    """

    _any_length = False

    def _record_windows(self, X):
        """Remember the channels and shape of the windows ``fit`` saw."""
        names = getattr(X, "ch_names", None)
        self._fitted_names = list(names) if names else None
        self.ch_names_ = self._fitted_names or [f"ch{i}" for i in range(X.shape[1])]
        self.n_channels_ = self.n_features_in_ = X.shape[1]
        self.n_times_ = X.shape[2]

    def _check_input(self, X):
        """``X`` checked against the fit: rate, channels by name, shape."""
        X = _check_windows(X)
        n_times = X.shape[2] if self._any_length else self.n_times_
        return check_fitted_windows(
            X,
            self,
            n_channels=self.n_channels_,
            n_times=n_times,
            sfreq=self.sfreq_,
            ch_names=self._fitted_names,
            reorder=True,
        )

    def calibrate(self, X, groups=None):
        """Learn the references of new subjects from their EEG alone.

        The fitted model is otherwise unchanged: a calibration recording of
        a new subject (no fMRI) makes it a seen subject, e.g. for the online
        twin (``pipeline[0].calibrate(windows)`` on a fitted pipeline). A
        subject already known gets its reference replaced.

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
        groups : array-like of shape (n_windows,), default=None
            Subject of each window, for plain arrays.

        Returns
        -------
        self : estimator
        """
        check_is_fitted(self)
        if getattr(self, "_references", None) is None:
            raise ValueError(
                f"{type(self).__name__} keeps no per-subject references to "
                "calibrate (recenter=False)."
            )
        X = self._check_input(X)
        self._references.add(window_groups(X, groups), self._statistics(X))
        return self


class SubjectAlignment(SubjectReferenceMixin, TransformerMixin, BaseEstimator):
    """Euclidean alignment: whiten each subject's EEG by its mean spatial covariance.

    Each window of subject ``s`` is multiplied by ``R_s^{-1/2}``, where
    ``R_s`` is the arithmetic mean of ``x @ x.T / n_times`` over that
    subject's windows (He & Wu 2019). After alignment every subject's mean
    covariance is the identity, so a model trained on some subjects meets
    the next one on the same footing; the symmetric square root keeps each
    output channel closest to its input channel, so the channel names are
    kept. A pipeline step in front of any window model, networks included.

    References follow the same rules as :class:`BandCovariances`: learned in
    :meth:`fit` from each subject's own windows (``X.groups`` for
    :class:`~skeeg2bold.EEGWindows`, else ``groups``; plain arrays without
    ``groups`` are one subject); for a subject not seen in ``fit``, taken
    from the EEG being transformed (``unseen_subjects="eeg"``, never BOLD),
    or refused (``"error"``).

    Parameters
    ----------
    method : {"euclidean", "scale"}, default="euclidean"
        ``"euclidean"``: multiply by ``R_s^{-1/2}`` (He & Wu 2019).
        ``"scale"``: divide each channel by its standard deviation over the
        subject's windows (the diagonal of ``R_s``), which removes
        differences of gain between subjects without mixing channels.
    unseen_subjects : {"eeg", "error"}, default="eeg"

    Attributes
    ----------
    references_ : dict
        Subject -> ndarray of shape (n_channels, n_channels), its ``R_s``.
    n_channels_, n_times_, n_features_in_ : int
    ch_names_ : list of str

    Notes
    -----
    With EEGWindows the output is EEGWindows again: each recording's
    continuous EEG is multiplied once (a new array; the input is not
    changed), so filters downstream still see continuous signals.

    References
    ----------
    He & Wu (2019), "Transfer learning for brain-computer interfaces: a
    Euclidean space data alignment approach", IEEE TBME 67(2).
    """

    _any_length = True

    def __init__(self, method="euclidean", unseen_subjects="eeg"):
        self.method = method
        self.unseen_subjects = unseen_subjects

    def fit(self, X, y=None, groups=None):
        """Learn each subject's mean covariance from its windows.

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
        y : ignored
            Never used: references come from EEG only.
        groups : array-like of shape (n_windows,), default=None
            Subject of each window, for plain arrays.

        Returns
        -------
        self : SubjectAlignment
        """
        check_option(self.method, ("euclidean", "scale"), "method")
        X = _check_windows(X)
        self._record_windows(X)
        self.sfreq_ = getattr(X, "sfreq", None)
        groups = window_groups(X, groups)
        self._references = SubjectReferences(
            _mean_covariance, self.unseen_subjects, type(self).__name__
        )
        self._references.fit(groups, self._statistics(X))
        self.references_ = self._references.references
        return self

    @staticmethod
    def _statistics(X):
        return _window_covariances(X)

    def transform(self, X, groups=None):
        """Aligned windows.

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
        groups : array-like of shape (n_windows,), default=None
            Subject of each window, for plain arrays.

        Returns
        -------
        X_aligned : EEGWindows or ndarray of the same shape as ``X``
        """
        check_is_fitted(self, "references_")
        X = self._check_input(X)
        groups = window_groups(X, groups)
        seen = {_key(g) for g in np.unique(groups)} <= set(self.references_)
        covs = None if seen else self._statistics(X)
        whiten = _invsqrtm if self.method == "euclidean" else _inverse_channel_sd
        whiteners = {g: whiten(ref) for g, ref in self._references.lookup(groups, covs).items()}
        if isinstance(X, EEGWindows):
            return _align_windows(X, groups, whiteners)
        out = np.empty_like(X)
        for g, whitener in whiteners.items():
            rows = groups == g
            out[rows] = whitener.astype(X.dtype) @ X[rows]
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


def _window_covariances(X):
    """``x @ x.T / n_times`` of every window (channel means removed), float64."""
    out = np.empty((len(X), X.shape[1], X.shape[1]))
    for lo in range(0, len(X), 64):
        batch = np.asarray(X[lo : lo + 64], dtype=np.float64)
        batch = batch - batch.mean(axis=-1, keepdims=True)
        out[lo : lo + len(batch)] = batch @ batch.transpose(0, 2, 1) / batch.shape[-1]
    return out


def _mean_covariance(covs):
    from pyriemann.geometry.mean import mean_euclid

    return mean_euclid(covs)


def _inverse_channel_sd(matrix):
    return np.diag(1.0 / np.sqrt(np.diag(matrix)))


def _invsqrtm(matrix):
    from pyriemann.geometry.base import invsqrtm

    return invsqrtm(matrix)


def _align_windows(X, groups, whiteners):
    """EEGWindows over new buffers: each used recording multiplied by its subject's whitener."""
    buffers, index = [], {}
    for r in np.unique(X.recording_index):
        subjects = np.unique(groups[X.recording_index == r])
        if len(subjects) != 1:
            raise ValueError(
                f"recording {r} holds windows of several subjects {subjects.tolist()}; "
                "a recording must be one subject's."
            )
        buffer = X._buffers[r]
        index[r] = len(buffers)
        buffers.append(
            np.ascontiguousarray(whiteners[_key(subjects[0])].astype(buffer.dtype) @ buffer)
        )
    return EEGWindows(
        buffers,
        [index[r] for r in X.recording_index],
        X.start,
        X.n_times,
        X.sfreq,
        X.ch_names,
        X.times,
        X.groups,
    )
