"""Average of different models, each standardised to a common scale first."""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import RegressorMixin, clone
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import _num_samples, check_is_fitted

from .._validation import UNKNOWN_SUBJECT, check_option, check_subject_labels
from .._windows import EEGWindows
from ..features._subject import MIN_REFERENCE_WINDOWS
from ..utils._docs import fill_doc
from ._seed import _fit_member

__all__ = ["StandardizedAverageRegressor"]

#: Where each member's location and scale come from.
STANDARDIZE_OPTIONS = ("subject", "pooled")


class StandardizedAverageRegressor(RegressorMixin, _BaseComposition):
    """Weighted mean of several regressors' predictions, each standardised first.

    Models of different families (a Riemannian ridge, an envelope ridge, a
    network) make different errors, so the mean of their predictions
    correlates with the target better than most members do. Their
    predictions come on different scales, though (a strongly penalised ridge
    predicts small fluctuations, a network larger ones), and a plain mean
    would weigh the members by that scale. Here every member's predictions
    of every target are standardised first, by their mean and standard
    deviation over the training windows, then averaged with ``weights`` and
    mapped back to the members' weighted mean scale and location. An
    ensemble of one member, or of identical members, predicts what the
    member predicts.

    With ``standardize="subject"`` the mean and standard deviation are each
    subject's own: those of the member's predictions on that subject's
    windows in ``fit`` (subjects from :attr:`~skeeg2bold.EEGWindows.groups`).
    This uses the subject's EEG only, never its BOLD, and makes each member
    count equally within every subject, whatever its scale there. Windows of
    a subject not seen in ``fit``, or seen with fewer than 10 windows, use
    the statistics of all training windows. Under the paper's protocol the
    target's labelled first minute is in ``fit``, so its test windows are
    standardised by that minute.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members: any regressors taking the same ``X`` and ``y``, e.g.
        :func:`~skeeg2bold.baselines.make_riemann_baseline`, a pipeline of
        :class:`~skeeg2bold.features.SubjectAlignment` and a network.
        Each is cloned and fitted on all of ``X``, ``y``. Their parameters
        are reachable as ``<name>__<parameter>``.
    weights : array-like of shape (n_estimators,), default=None
        Non-negative weight of every member (normalised to sum to 1);
        ``None`` weighs them equally.
    standardize : {"subject", "pooled"}, default="subject"
        Statistics of each subject's own training windows, or of all
        training windows, for every subject.
    n_jobs : int or None, default=None
        Members fitted in parallel (joblib), as in
        :class:`SeedEnsembleRegressor` (do not fit torch members in threads).

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``estimators``.
    named_estimators_ : dict
        Name -> fitted member.
    weights_ : ndarray of shape (n_estimators,)
        The normalised weights.
    location_, scale_ : ndarray of shape (n_estimators, n_targets)
        Mean and standard deviation of each member's predictions of each
        target over all training windows.
    subject_location_, subject_scale_ : dict
        Subject -> ndarray of shape (n_estimators, n_targets): the same over
        that subject's training windows (empty with
        ``standardize="pooled"``).
    n_features_in_ : int
        Taken from the first member when it has it.

    See Also
    --------
    SeedEnsembleRegressor : One model trained with several seeds.

    Notes
    -----
    A member whose predictions of a target do not vary over the training
    windows (a constant model) gets scale 1 for it, so it adds its constant
    and nothing else.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Lasso, Ridge
    >>> from skeeg2bold.ensemble import StandardizedAverageRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((80, 5))
    >>> y = X[:, 0] + 0.1 * rng.standard_normal(80)
    >>> model = StandardizedAverageRegressor(
    ...     [("ridge", Ridge(alpha=100.0)), ("lasso", Lasso(alpha=0.1))]
    ... ).fit(X, y)
    >>> model.predict(X).shape
    (80,)
    """

    _required_parameters = ["estimators"]

    def __init__(self, estimators, *, weights=None, standardize="subject", n_jobs=None):
        self.estimators = estimators
        self.weights = weights
        self.standardize = standardize
        self.n_jobs = n_jobs

    def get_params(self, deep=True):
        """Parameters of the ensemble and, with ``deep``, of its members (``<name>__<param>``)."""
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters of the ensemble or of its members (``<name>__<param>``).

        Returns
        -------
        self
        """
        self._set_params("estimators", **params)
        return self

    def _check_params(self):
        if not isinstance(self.estimators, (list, tuple)) or not self.estimators:
            raise ValueError(
                "estimators must be a non-empty list of (name, estimator) tuples, "
                f"got {self.estimators!r:.200}."
            )
        if not all(isinstance(e, tuple) and len(e) == 2 for e in self.estimators):
            raise ValueError("estimators must be a list of (name, estimator) tuples.")
        names, _ = zip(*self.estimators)
        self._validate_names(names)
        check_option(self.standardize, STANDARDIZE_OPTIONS, "standardize")
        n = len(self.estimators)
        if self.weights is None:
            return np.full(n, 1.0 / n)
        weights = np.asarray(self.weights, dtype=float)
        if weights.shape != (n,):
            raise ValueError(
                f"weights must have one value per estimator ({n}), got shape {weights.shape}."
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(
                f"weights must be finite, non-negative and not all zero, got {weights.tolist()}."
            )
        return weights / weights.sum()

    @fill_doc
    def fit(self, X, y, **fit_params):
        """Fit every member on ``X``, ``y``; learn each member's location and scale.

        Parameters
        ----------
        %(X_members)s
        %(y_targets)s
        **fit_params
            Passed to every member's ``fit``.

        Returns
        -------
        self
        """
        self.weights_ = self._check_params()
        members = [clone(estimator) for _, estimator in self.estimators]
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(member, X, y, fit_params) for member in members
        )
        self.named_estimators_ = {
            name: member for (name, _), member in zip(self.estimators, self.estimators_)
        }
        predictions, _ = self._member_predictions(X)
        groups = _subjects(X)
        self.location_ = predictions.mean(axis=1)
        self.scale_ = _scale(predictions)
        self.subject_location_, self.subject_scale_ = {}, {}
        if self.standardize == "subject":
            for g in np.unique(groups):
                rows = groups == g
                if g != UNKNOWN_SUBJECT and rows.sum() >= MIN_REFERENCE_WINDOWS:
                    self.subject_location_[str(g)] = predictions[:, rows].mean(axis=1)
                    self.subject_scale_[str(g)] = _scale(predictions[:, rows])
        if hasattr(self.estimators_[0], "n_features_in_"):
            self.n_features_in_ = self.estimators_[0].n_features_in_
        return self

    def _member_predictions(self, X):
        """Member predictions, shape (n_estimators, n_windows, n_targets), and their own shape."""
        predictions = [np.asarray(member.predict(X), dtype=float) for member in self.estimators_]
        shapes = {p.shape for p in predictions}
        if len(shapes) != 1:
            raise ValueError(
                f"the estimators predict different shapes {sorted(shapes)}; "
                "an ensemble needs the same targets from every member."
            )
        return np.stack([p.reshape(len(p), -1) for p in predictions]), predictions[0].shape

    @fill_doc
    def predict(self, X):
        """Weighted mean of the standardised member predictions, on the members' scale.

        Parameters
        ----------
        %(X_as_fit)s

        Returns
        -------
        y_pred : ndarray
            Shaped as each member's prediction.
        """
        check_is_fitted(self, "estimators_")
        predictions, shape = self._member_predictions(X)
        groups = _subjects(X)
        out = np.empty(predictions.shape[1:])
        w = self.weights_[:, None]
        for g in np.unique(groups):
            rows = groups == g
            location = self.subject_location_.get(g, self.location_)
            scale = self.subject_scale_.get(g, self.scale_)
            z = (predictions[:, rows] - location[:, None]) / scale[:, None]
            out[rows] = (w[:, None] * z).sum(axis=0) * (w * scale).sum(axis=0) + (w * location).sum(
                axis=0
            )
        return out.reshape(shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = [estimator.__sklearn_tags__() for _, estimator in self.estimators]
        tags.input_tags = inner[0].input_tags
        tags.target_tags.multi_output = all(t.target_tags.multi_output for t in inner)
        tags.target_tags.single_output = all(t.target_tags.single_output for t in inner)
        tags.non_deterministic = any(t.non_deterministic for t in inner)
        return tags


def _scale(predictions):
    """Standard deviation over windows (axis 1); 1 where a member's prediction is constant."""
    sd = predictions.std(axis=1)
    return np.where(sd > 1e-12 * (1 + np.abs(predictions).max(axis=1)), sd, 1.0)


def _subjects(X):
    """Subject of every window, as text: ``X.groups`` for EEGWindows; other input is unlabelled."""
    n = _num_samples(X)
    if isinstance(X, EEGWindows):
        return check_subject_labels(X.groups, n)
    return np.full(n, UNKNOWN_SUBJECT)
