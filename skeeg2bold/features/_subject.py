"""Per-subject references learned from EEG only: the shared machinery of
re-centring (:class:`BandCovariances`) and Euclidean alignment
(:class:`SubjectAlignment`)."""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    UNKNOWN_SUBJECT,
    check_fitted_windows,
    check_option,
    check_subject_labels,
)
from .._windows import EEGWindows
from ..utils._docs import fill_doc
from ._envelope import _check_windows

__all__ = [
    "SubjectAlignment",
    "SubjectLabelWarning",
    "SubjectReferenceMixin",
    "SubjectReferences",
    "window_groups",
]

#: What a transformer does with a subject it did not see in ``fit``.
UNSEEN_OPTIONS = ("eeg", "error")
#: Fewest windows an unseen subject's reference is taken from: fewer make a
#: reference close to the windows themselves, which would whiten their
#: content away (one window re-centred at itself is the identity).
MIN_REFERENCE_WINDOWS = 10
#: Subject of plain arrays given without ``groups``: one subject, whose
#: reference ``fit`` learns and ``transform`` applies to plain arrays without
#: ``groups`` (scikit-learn's contract). Not a label of EEGWindows.
PLAIN_ARRAY_SUBJECT = "<plain array>"
#: A channel is flat when its variance over a subject's windows is at most
#: this fraction of the subject's mean channel variance (-120 dB): it holds
#: nothing but rounding, and no reference can scale or whiten it.
FLAT_CHANNEL_RTOL = 1e-12
#: Shrinkage of a subject's mean covariance toward its trace-scaled identity
#: before :class:`SubjectAlignment` inverts its square root (see there).
ALIGNMENT_SHRINKAGE = 1e-8


class SubjectLabelWarning(UserWarning):
    """A per-subject step was fitted on windows whose subjects it cannot tell apart."""


def window_groups(X, groups, name="groups", *, fitting=False, owner=None):
    """Subject of every window, as text: ``X.groups`` for EEGWindows, else ``groups``.

    Plain arrays without ``groups`` are one subject
    (:data:`PLAIN_ARRAY_SUBJECT`); ``fitting=True`` warns then
    (:class:`SubjectLabelWarning`), as windows of several subjects would be
    referenced as one. ``groups`` given with EEGWindows must agree with the
    windows' own subjects.
    """
    n = len(X)
    if isinstance(X, EEGWindows):
        if groups is not None and not np.array_equal(
            check_subject_labels(groups, n, name), X.groups
        ):
            raise ValueError(
                f"{name} disagrees with X.groups, the subjects the EEGWindows carry; "
                f"leave {name}=None to use them."
            )
        return X.groups
    if groups is None:
        if fitting:
            warnings.warn(
                f"{owner} was fitted on a plain array without groups: its {n} windows "
                "are taken as one subject and referenced together, and plain arrays "
                "without groups are later transformed with that subject's reference. If "
                "they hold several subjects, pass EEGWindows (make_windows), or groups "
                "to fit and transform; through a pipeline or cross_validate, route them "
                "with sklearn.set_config(enable_metadata_routing=True), "
                "step.set_fit_request(groups=True).set_transform_request(groups=True) "
                "and cross_validate(..., params={'groups': groups}).",
                SubjectLabelWarning,
                stacklevel=3,
            )
        return np.full(n, PLAIN_ARRAY_SUBJECT)
    return check_subject_labels(groups, n, name)


class _FlatChannels(ValueError):
    """Raised by a reference's ``compute`` with the indices of the flat channels."""

    def __init__(self, channels):
        super().__init__(channels)
        self.channels = channels


def check_not_flat(variances):
    """Raise :class:`_FlatChannels` when a channel's variance is (close to) zero.

    ``variances`` holds one subject's channel variances; a channel is flat at
    or below :data:`FLAT_CHANNEL_RTOL` times their mean.
    """
    variances = np.asarray(variances, dtype=np.float64)
    flat = variances <= FLAT_CHANNEL_RTOL * np.mean(variances)
    if flat.any():
        raise _FlatChannels(np.flatnonzero(flat))


class SubjectReferences:
    """Per-subject reference statistics, learned in ``fit`` from each subject's own windows.

    ``compute(stats)`` turns the per-window statistics of one subject into
    its reference. A subject seen in ``fit`` keeps the reference learned
    there; an unseen one gets a reference from the windows being transformed
    (``unseen="eeg"``: EEG only, never BOLD) or raises (``unseen="error"``).
    Windows labelled :data:`~skeeg2bold._validation.UNKNOWN_SUBJECT` are
    never learned: they are always referenced at their own EEG. Subjects are
    text (``1`` and ``"1"`` are one).
    """

    def __init__(self, compute, unseen, owner, ch_names=None):
        self.compute = compute
        self.unseen = check_option(unseen, UNSEEN_OPTIONS, "unseen_subjects")
        self.owner = owner
        self.ch_names = ch_names
        self.references = {}

    def _compute(self, subject, stats):
        try:
            return self.compute(stats)
        except _FlatChannels as err:
            names = self.ch_names or [f"ch{i}" for i in range(max(err.channels) + 1)]
            flat = [names[i] for i in err.channels]
            raise ValueError(
                f"{self.owner}: channel(s) {flat} of subject {subject!r} are flat (zero "
                f"variance over its {len(stats)} window(s)); its reference cannot scale or "
                "whiten them. Drop or interpolate them in every subject (e.g. "
                "windows.pick([...]), mne's interpolate_bads) before fitting."
            ) from None

    def fit(self, groups, stats):
        self.references = {
            str(g): self._compute(str(g), stats[groups == g])
            for g in np.unique(groups)
            if g != UNKNOWN_SUBJECT
        }
        return self

    def add(self, groups, stats, replace=False):
        """Learn the references of the subjects in ``groups``.

        A subject already known is refused unless ``replace=True``; windows
        without a subject label are refused.
        """
        subjects = [str(g) for g in np.unique(groups)]
        if UNKNOWN_SUBJECT in subjects:
            raise ValueError(
                f"{self.owner}.calibrate needs the subject of every window, but some are "
                f"labelled {UNKNOWN_SUBJECT!r} (EEGWindows.from_array without groups); "
                "pass groups=."
            )
        known = sorted(set(subjects) & set(self.references))
        if known and not replace:
            raise ValueError(
                f"subject(s) {known} already have a reference in {self.owner}; "
                "calibrate(..., replace=True) replaces them."
            )
        new = SubjectReferences(self.compute, self.unseen, self.owner, self.ch_names)
        self.references.update(new.fit(groups, stats).references)
        return self

    def lookup(self, groups, stats):
        """``{subject: reference}`` for every subject in ``groups``.

        ``stats`` may be None when every subject is known.
        """
        out = {}
        for g in np.unique(groups):
            key = str(g)
            if key in self.references:
                out[key] = self.references[key]
                continue
            what = (
                "windows without a subject label (EEGWindows.from_array without groups)"
                if key == UNKNOWN_SUBJECT
                else f"subject {key!r}, not seen in {self.owner}.fit"
            )
            if self.unseen == "error":
                raise ValueError(
                    f"subject {key!r} was not seen in {self.owner}.fit (seen: "
                    f"{sorted(self.references)!r:.200}) and unseen_subjects='error'; "
                    "fit on some of its EEG or set unseen_subjects='eeg' to take its "
                    "reference from the EEG being transformed."
                )
            n = int(np.sum(groups == g))
            if n < MIN_REFERENCE_WINDOWS:
                raise ValueError(
                    f"{what}: only {n} window(s) of its EEG were given and "
                    f"{self.owner} was not fitted on it; its reference needs at least "
                    f"{MIN_REFERENCE_WINDOWS} (a reference from a few windows whitens "
                    "their own content away). Transform more of its windows at once, "
                    "or fit or calibrate on some of its EEG."
                )
            out[key] = self._compute(key, stats[groups == g])
        return out


class SubjectReferenceMixin:
    """``calibrate`` and the input check of the steps with per-subject references.

    A class sets ``_references`` (a :class:`SubjectReferences` or None) in
    ``fit`` and defines ``_add_references(X, groups, replace)``, which
    learns the references of the subjects of ``X``; ``_any_length`` says
    whether windows of another length than in ``fit`` are accepted.
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

    def calibrate(self, X, groups=None, *, replace=False):
        """Learn the references of new subjects from their EEG alone.

        The fitted model is otherwise unchanged: a calibration recording of
        a new subject (no fMRI) makes it a seen subject, e.g. for the online
        twin (``pipeline[0].calibrate(windows)`` on a fitted pipeline).

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
            Windows of named subjects: ``X.groups``, else ``groups``.
        groups : array-like of shape (n_windows,), default=None
            Subject of each window, required for plain arrays.
        replace : bool, default=False
            Replace the reference of a subject already known (seen in
            ``fit`` or calibrated before); without it such a subject is
            refused, so a calibration cannot overwrite a training subject's
            reference by mistake.

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
        if not isinstance(X, EEGWindows) and groups is None:
            raise ValueError(
                f"{type(self).__name__}.calibrate needs the subject of the windows: pass "
                "groups= with a plain array, or EEGWindows labelled with their subject."
            )
        self._add_references(X, window_groups(X, groups), bool(replace))
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
    ``groups`` are one subject, with a :class:`SubjectLabelWarning`); for a
    subject not seen in ``fit`` or windows without a subject label, taken
    from the EEG being transformed (``unseen_subjects="eeg"``, never BOLD),
    or refused (``"error"``).

    Rank-deficient EEG (average reference, a duplicated channel, channels
    interpolated from others) has a singular ``R_s``. Its inverse square
    root is taken after shrinking ``R_s`` toward its trace-scaled identity
    by :data:`ALIGNMENT_SHRINKAGE` (1e-8): directions with at least 1e-6 of
    the mean channel variance are whitened as before (to within 1%), and
    the empty directions of a rank-deficient subject, which hold only
    rounding (float32 rounding: about 1e-15 of the channel variance), stay
    close to zero instead of being raised to unit variance. The whitener is
    applied in float64 and the result cast back to the input's dtype. A
    flat channel (zero variance over a subject's windows) raises
    ``ValueError`` naming the channel and the subject.

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

    @fill_doc
    def fit(self, X, y=None, groups=None):
        """Learn each subject's mean covariance from its windows.

        Parameters
        ----------
        %(X_windows)s
        %(y_ignored)s
        %(groups)s

        Returns
        -------
        self : SubjectAlignment
        """
        check_option(self.method, ("euclidean", "scale"), "method")
        X = _check_windows(X)
        self._record_windows(X)
        self.sfreq_ = getattr(X, "sfreq", None)
        owner = type(self).__name__
        groups = window_groups(X, groups, fitting=True, owner=owner)
        self._references = SubjectReferences(
            _mean_covariance, self.unseen_subjects, owner, self.ch_names_
        )
        self._references.fit(groups, self._statistics(X))
        self.references_ = self._references.references
        return self

    def _add_references(self, X, groups, replace):
        self._references.add(groups, self._statistics(X), replace)

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
        seen = {str(g) for g in np.unique(groups)} <= set(self.references_)
        covs = None if seen else self._statistics(X)
        whiten = _invsqrtm if self.method == "euclidean" else _inverse_channel_sd
        whiteners = {g: whiten(ref) for g, ref in self._references.lookup(groups, covs).items()}
        if isinstance(X, EEGWindows):
            return _align_windows(X, groups, whiteners)
        out = np.empty_like(X)
        for g, whitener in whiteners.items():
            rows = groups == g
            out[rows] = whitener @ X[rows].astype(np.float64)
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
    """A subject's arithmetic mean covariance; flat channels refused."""
    from pyriemann.geometry.mean import mean_euclid

    mean = mean_euclid(covs)
    check_not_flat(np.diag(mean))
    return mean


def _inverse_channel_sd(matrix):
    return np.diag(1.0 / np.sqrt(np.diag(matrix)))


def _invsqrtm(matrix):
    """``R^{-1/2}`` of ``R`` shrunk by :data:`ALIGNMENT_SHRINKAGE` toward its
    trace-scaled identity: defined for rank-deficient ``R``."""
    from pyriemann.geometry.base import invsqrtm
    from sklearn.covariance import shrunk_covariance

    return invsqrtm(shrunk_covariance(matrix, ALIGNMENT_SHRINKAGE))


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
            np.ascontiguousarray(
                (whiteners[str(subjects[0])] @ buffer.astype(np.float64)).astype(buffer.dtype)
            )
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
