"""How far a window's EEG is from the EEG a model was trained or calibrated on."""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._validation import UNKNOWN_SUBJECT, check_int, check_positive, check_subject_labels

__all__ = ["CovarianceOODScore"]


class CovarianceOODScore(BaseEstimator):
    """Out-of-distribution score of EEG windows: Riemannian distance to the subject's mean.

    Each window's spatial covariance (OAS shrinkage, pyriemann) is compared
    with the Riemannian mean of its subject's reference windows by the
    affine-invariant distance (:func:`pyriemann.geometry.distance.
    distance_riemann`). The distance is made a p-value against the
    distances of the reference windows themselves: ``p = (1 + #{reference
    distances >= d}) / (n + 1)``. A window with ``p < alpha`` is
    out-of-distribution.

    The distance sees what a model trained on this EEG has never seen:
    a gain or unit change (every eigenvalue scaled), a popped or flat
    electrode (one channel's variance changed), swapped channels (the
    covariance's rows permuted), strong artefacts. It is not invariant to
    the channels' scale, on purpose, although some models are (e.g. the
    Riemannian baseline scales each subject's channels): a window that the
    model would still predict on is flagged when the recording changed.

    The reference distances are held out: each subject's windows (in the
    order given, i.e. in time) are cut into ``n_blocks`` contiguous blocks,
    and the windows of each block are compared with the mean of the other
    blocks. In-sample distances (a window compared with a mean it is part
    of) would be smaller than those of new clean EEG and flag the slow
    changes of brain state that the model reads (the very signal) as
    out-of-distribution. Consecutive windows overlap,
    so the p-values are not independent across windows; check the
    false-positive rate on held-out clean EEG (``benchmarks/bench_ood.py``).

    Parameters
    ----------
    alpha : float, default=0.01
        p-value below which :meth:`predict` flags a window.
    n_blocks : int, default=2
        Contiguous blocks per subject for the held-out reference distances.
        Fewer blocks compare each block with a mean of less, and further
        away, EEG: larger null distances, fewer false positives on EEG whose
        state drifts after the reference, and less sensitivity.

    Attributes
    ----------
    references_ : dict
        Subject (str) -> ndarray of shape (n_channels, n_channels), the
        Riemannian mean covariance of its reference windows.
    null_distances_ : ndarray of shape (n_reference_windows,)
        Sorted distances of the reference windows to the mean of their
        subject's other blocks.
    n_channels_ : int
    """

    def __init__(self, *, alpha=0.01, n_blocks=2):
        self.alpha = alpha
        self.n_blocks = n_blocks

    def fit(self, X, y=None, groups=None):
        """Learn each subject's mean covariance and the null distances.

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
            Clean reference windows: the training windows, or a new
            subject's calibration windows.
        y : None
            Ignored.
        groups : array-like of shape (n_windows,), default=None
            Subject of each window (``X.groups`` when ``X`` is an
            :class:`~skeeg2bold.EEGWindows`); ``None``: one subject.

        Returns
        -------
        self
        """
        from pyriemann.geometry.mean import mean_riemann

        check_positive(self.alpha, "alpha")
        n_blocks = check_int(self.n_blocks, "n_blocks", min_value=2)
        covs = _covariances(X)
        labels = _labels(X, groups, len(covs))
        self.n_channels_ = covs.shape[1]
        self.references_ = {}
        distances = np.empty(len(covs))
        for subject in np.unique(labels):
            own = labels == subject
            if own.sum() < 2 * n_blocks:
                raise ValueError(
                    f"subject {str(subject)!r} has {own.sum()} reference window(s); the OOD score "
                    f"needs at least 2 * n_blocks = {2 * n_blocks} per subject."
                )
            self.references_[str(subject)] = mean_riemann(covs[own])
            distances[own] = _held_out_distances(covs[own], n_blocks)
        if self.alpha <= 1.0 / (len(covs) + 1):
            raise ValueError(
                f"alpha={self.alpha:g} can flag no window with {len(covs)} reference windows "
                f"(the smallest p-value is 1/{len(covs) + 1}); give more than "
                f"{int(np.ceil(1 / self.alpha)) - 1} reference windows or a larger alpha."
            )
        self.null_distances_ = np.sort(distances)
        return self

    def score_samples(self, X, groups=None):
        """Distance of every window to its subject's reference.

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
        groups : array-like of shape (n_windows,), default=None
            Subjects (``X.groups`` when known); each must have a reference.
            ``None`` with one reference subject: that subject.

        Returns
        -------
        distances : ndarray of shape (n_windows,)
            ``inf`` for a window whose covariance is not positive definite
            (e.g. all-zero EEG).
        """
        check_is_fitted(self, "references_")
        covs = _covariances(X)
        if covs.shape[1] != self.n_channels_:
            raise ValueError(
                f"X has {covs.shape[1]} channels, the OOD score was fitted on {self.n_channels_}."
            )
        labels = _labels(X, groups, len(covs))
        if len(self.references_) == 1 and (groups is None and getattr(X, "groups", None) is None):
            labels = np.full(len(covs), next(iter(self.references_)))
        out = np.empty(len(covs))
        for subject in np.unique(labels):
            if subject not in self.references_:
                raise ValueError(
                    f"subject {str(subject)!r} has no reference EEG; the OOD score knows "
                    f"{sorted(self.references_)}. Fit it on this subject's calibration EEG."
                )
            own = labels == subject
            out[own] = _distances(covs[own], self.references_[subject])
        return out

    def p_value(self, X, groups=None):
        """p-value of every window under the reference distances (small: unusual).

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
        groups : array-like of shape (n_windows,), default=None

        Returns
        -------
        p : ndarray of shape (n_windows,)
            In ``[1 / (n + 1), 1]``, ``n`` reference windows.
        """
        return self._p(self.score_samples(X, groups))

    def _p(self, distances):
        null = self.null_distances_
        n_above = null.size - np.searchsorted(null, distances, side="left")
        return (1.0 + n_above) / (null.size + 1.0)

    def predict(self, X, groups=None):
        """Whether each window is out-of-distribution (``p_value < alpha``).

        Returns
        -------
        ood : ndarray of bool, shape (n_windows,)
        """
        return self.p_value(X, groups) < self.alpha


def _labels(X, groups, n):
    if groups is None:
        groups = getattr(X, "groups", None)
    if groups is None:
        return np.full(n, UNKNOWN_SUBJECT)
    return check_subject_labels(groups, n)


def _covariances(X):
    from pyriemann.geometry.covariance import covariances

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(
            f"X must be windows of shape (n_windows, n_channels, n_times), got {X.shape}."
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X holds NaN or infinite samples.")
    return covariances(X, estimator="oas")


def _distances(covs, reference):
    """Affine-invariant distances; ``inf`` where a covariance is singular."""
    from pyriemann.geometry.distance import distance_riemann

    out = np.full(len(covs), np.inf)
    ok = np.linalg.eigvalsh(covs).min(axis=1) > 0
    if ok.any():
        out[ok] = distance_riemann(covs[ok], reference)
    return out


def _held_out_distances(covs, n_blocks):
    """Distance of each block's covariances to the Riemannian mean of the other blocks."""
    from pyriemann.geometry.mean import mean_riemann

    out = np.empty(len(covs))
    for block in np.array_split(np.arange(len(covs)), n_blocks):
        rest = np.ones(len(covs), dtype=bool)
        rest[block] = False
        out[block] = _distances(covs[block], mean_riemann(covs[rest]))
    return out
