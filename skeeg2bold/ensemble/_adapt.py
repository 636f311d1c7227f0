"""Stacking of several models, re-weighted for every subject by its own labelled windows."""

import warnings

import numpy as np
from scipy.optimize import nnls
from sklearn.base import RegressorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from .._validation import UNKNOWN_SUBJECT, check_int
from ..features._subject import MIN_REFERENCE_WINDOWS
from ..metrics import ConstantTargetWarning, pearson_r
from ..utils._docs import fill_doc
from ._average import StandardizedAverageRegressor, _scale, _subjects

__all__ = ["SubjectStackingRegressor"]

#: Shrinkage strengths tried with ``alpha="auto"``; ``inf`` keeps the pooled weights.
DEFAULT_ALPHAS = (0.1, 1.0, 10.0, np.inf)


class SubjectStackingRegressor(RegressorMixin, _BaseComposition):
    """Stacked models whose weights are adapted to every subject's own labelled windows.

    Like :class:`StandardizedAverageRegressor`, every member's predictions
    are standardised by their mean and standard deviation over each
    subject's training windows, then combined with non-negative weights
    summing to 1. The weights are learned, not fixed:

    1. every member is fitted on all of ``X``, ``y``;
    2. for every subject, *honest* predictions of every member on that
       subject's training windows come from the member refitted without the
       subject's windows (cross-fitting). For a
       :class:`~sklearn.pipeline.Pipeline` only its final estimator (the
       final estimator of nested pipelines) is refitted, on the features its
       fitted transformers give; this assumes the transformers are fitted on
       EEG only, as the package's are. Other members are refitted whole;
    3. the pooled weights are the non-negative least squares fit of the
       standardised BOLD (every subject's, every target's) on the members'
       standardised honest predictions, normalised to sum 1;
    4. every subject's weights are the same fit on its own windows only
       (shared by its targets), shrunk toward the pooled weights with
       strength ``alpha`` (a ridge penalty ``alpha * n_rows * |w - c w_0|^2``,
       ``c w_0`` the pooled weights at their best scale on the subject's
       windows, so that the penalty restrains the direction, not the scale,
       which no Pearson correlation sees).

    With a single subject in ``fit`` nothing can be cross-fitted: the
    weights are equal, as in :class:`StandardizedAverageRegressor`.

    At ``predict``, windows of a subject seen in ``fit`` (from
    :attr:`~skeeg2bold.EEGWindows.groups`) get that subject's weights;
    windows of any other subject get the pooled weights. Under the paper's
    protocol the target's labelled first minute is in ``fit``: its weights
    come from that minute and the other subjects' models, never from its
    validation or test windows.

    A per-subject affine map of one model's predictions does not change
    their Pearson correlation with the BOLD, so adaptation acts through the
    relative weights of members only.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members, as in :class:`StandardizedAverageRegressor`.
    alpha : float or "auto", default="auto"
        Shrinkage of every subject's weights toward the pooled ones;
        ``numpy.inf`` keeps the pooled weights for every subject (plain
        stacking), ``0`` fits each subject's weights on its windows alone.
        ``"auto"`` chooses among ``alphas`` by simulating the protocol on
        the training subjects with enough windows: the weights are fitted on
        the first ``calibration_windows`` windows of the subject (by time),
        and scored (mean Pearson r over targets) on its later ones.
    alphas : sequence of float, default=(0.1, 1.0, 10.0, inf)
        Candidates for ``alpha="auto"``.
    calibration_windows : int, default=None
        Windows of a simulated subject's calibration block with
        ``alpha="auto"``; ``None`` takes the smallest number of windows of a
        subject in ``fit`` (at least 10). Subjects with fewer than twice as
        many windows are not simulated.
    n_jobs : int or None, default=None
        Members fitted in parallel, as in
        :class:`StandardizedAverageRegressor`.

    Attributes
    ----------
    average_ : StandardizedAverageRegressor
        The fitted members with their per-subject standardisation.
    estimators_ : list of estimators
        The fitted members.
    weights_ : ndarray of shape (n_estimators,)
        The pooled weights.
    subject_weights_ : dict
        Subject -> ndarray of shape (n_estimators,): its adapted weights
        (subjects with at least 10 training windows).
    alpha_ : float
        The shrinkage used.
    alpha_scores_ : dict
        With ``alpha="auto"``: candidate -> mean simulated score (empty
        otherwise, or when no subject could be simulated; then the largest
        candidate is used).

    See Also
    --------
    StandardizedAverageRegressor : Fixed weights, no labels used.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Lasso, Ridge
    >>> from skeeg2bold.ensemble import SubjectStackingRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((80, 5))
    >>> y = X[:, 0] + 0.1 * rng.standard_normal(80)
    >>> model = SubjectStackingRegressor(
    ...     [("ridge", Ridge(alpha=100.0)), ("lasso", Lasso(alpha=0.1))], alpha=1.0
    ... ).fit(X, y)
    >>> model.predict(X).shape
    (80,)
    """

    _required_parameters = ["estimators"]

    def __init__(
        self,
        estimators,
        *,
        alpha="auto",
        alphas=DEFAULT_ALPHAS,
        calibration_windows=None,
        n_jobs=None,
    ):
        self.estimators = estimators
        self.alpha = alpha
        self.alphas = alphas
        self.calibration_windows = calibration_windows
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
        if isinstance(self.alpha, str):
            if self.alpha != "auto":
                raise ValueError(
                    f'alpha must be a non-negative number or "auto", got {self.alpha!r}.'
                )
        elif not _is_shrinkage(self.alpha):
            raise ValueError(f'alpha must be a non-negative number or "auto", got {self.alpha!r}.')
        alphas = np.asarray(self.alphas, dtype=float) if _is_sequence(self.alphas) else None
        if (
            alphas is None
            or alphas.ndim != 1
            or len(alphas) == 0
            or not all(map(_is_shrinkage, alphas))
        ):
            raise ValueError(
                f"alphas must be a non-empty sequence of non-negative numbers, got {self.alphas!r}."
            )
        check_int(
            self.calibration_windows,
            "calibration_windows",
            min_value=MIN_REFERENCE_WINDOWS,
            allow_none=True,
        )
        return alphas

    @fill_doc
    def fit(self, X, y, **fit_params):
        """Fit the members, their honest predictions, and the pooled and per-subject weights.

        Parameters
        ----------
        %(X_members)s
        %(y_targets)s
        **fit_params
            Passed to every member's ``fit`` (not to the cross-fitted refits).

        Returns
        -------
        self
        """
        alphas = self._check_params()
        self.average_ = StandardizedAverageRegressor(self.estimators, n_jobs=self.n_jobs).fit(
            X, y, **fit_params
        )
        self.estimators_ = self.average_.estimators_
        self.named_estimators_ = self.average_.named_estimators_
        if hasattr(self.average_, "n_features_in_"):
            self.n_features_in_ = self.average_.n_features_in_
        y = np.asarray(y)
        y2 = y.astype(float).reshape(len(y), -1)
        groups = _subjects(X)
        subjects = [
            g
            for g in np.unique(groups)
            if g != UNKNOWN_SUBJECT and (groups == g).sum() >= MIN_REFERENCE_WINDOWS
        ]
        if len(np.unique(groups)) < 2:
            # No other subject to cross-fit with: nothing honest to learn from.
            subjects = []
        honest = self._honest_predictions(X, y, groups, subjects)
        rows = {str(g): np.flatnonzero(groups == g) for g in subjects}
        self.alpha_scores_ = {}
        if self.alpha == "auto":
            self.alpha_scores_ = _simulate(honest, y2, rows, X, alphas, self.calibration_windows)
            self.alpha_ = (
                max(self.alpha_scores_, key=self.alpha_scores_.get)
                if self.alpha_scores_
                else float(alphas.max())
            )
        else:
            self.alpha_ = float(self.alpha)
        blocks = {g: _standardized(honest[:, r], y2[r]) for g, r in rows.items()}
        self.weights_ = _pooled_weights(list(blocks.values()), len(self.estimators_))
        self.subject_weights_ = {
            g: _subject_weights(Z, ys, self.weights_, self.alpha_) for g, (Z, ys) in blocks.items()
        }
        return self

    def _honest_predictions(self, X, y, groups, subjects):
        """Every member's predictions of every subject's rows, refitted without them."""
        out = np.zeros((len(self.estimators_), len(y), int(np.prod(y.shape[1:]))))
        for i, (member, (_, spec)) in enumerate(zip(self.estimators_, self.estimators)):
            fronts, final = _split_final(member)
            if fronts:
                features = X
                for front in fronts:
                    features = front.transform(features)
            for g in subjects:
                mine = groups == g
                mine, rest = np.flatnonzero(mine), np.flatnonzero(~mine)
                if fronts:
                    refit = clone(final).fit(features[rest], y[rest])
                    prediction = refit.predict(features[mine])
                else:
                    refit = clone(spec).fit(X[rest], y[rest])
                    prediction = refit.predict(X[mine])
                out[i, mine] = np.asarray(prediction, dtype=float).reshape(len(mine), -1)
        return out

    @fill_doc
    def predict(self, X):
        """Standardised member predictions, combined with each subject's weights.

        Parameters
        ----------
        %(X_as_fit)s

        Returns
        -------
        y_pred : ndarray
            Shaped as each member's prediction.
        """
        check_is_fitted(self, "subject_weights_")
        average = self.average_
        predictions, shape = average._member_predictions(X)
        groups = _subjects(X)
        out = np.empty(predictions.shape[1:])
        for g in np.unique(groups):
            rows = groups == g
            w = self.subject_weights_.get(str(g), self.weights_)[:, None]
            location = average.subject_location_.get(str(g), average.location_)
            scale = average.subject_scale_.get(str(g), average.scale_)
            z = (predictions[:, rows] - location[:, None]) / scale[:, None]
            out[rows] = (w[:, None] * z).sum(axis=0) * (w * scale).sum(axis=0) + (w * location).sum(
                axis=0
            )
        return out.reshape(shape)

    def __sklearn_tags__(self):
        return StandardizedAverageRegressor(self.estimators).__sklearn_tags__()


def _is_shrinkage(value):
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and not np.isnan(value)
        and value >= 0
    )


def _is_sequence(value):
    return isinstance(value, (list, tuple, np.ndarray)) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in value
    )


def _split_final(member):
    """The fitted transformers in front of a pipeline's innermost final estimator, and that."""
    fronts = []
    while isinstance(member, Pipeline):
        fronts.append(member[:-1])
        member = member[-1]
    return fronts, member


def _standardized(predictions, y, reference=None):
    """Member predictions and BOLD standardised per target on ``reference`` rows (default all)."""
    ref = slice(None) if reference is None else reference
    p_ref = predictions[:, ref]
    Z = (predictions - p_ref.mean(axis=1, keepdims=True)) / _scale(p_ref)[:, None]
    y_ref = y[ref]
    sd = y_ref.std(axis=0)
    ys = (y - y_ref.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return Z, ys


def _pooled_weights(blocks, n_members):
    """Non-negative least squares of the standardised BOLD on the members, normalised."""
    if not blocks:
        return np.full(n_members, 1.0 / n_members)
    A = np.concatenate([Z.reshape(n_members, -1).T for Z, _ in blocks])
    b = np.concatenate([ys.ravel() for _, ys in blocks])
    return _normalised(nnls(A, b)[0], n_members)


def _subject_weights(Z, ys, prior, alpha):
    """One subject's weights, shrunk toward ``prior`` (at its best scale) with ``alpha``."""
    if np.isinf(alpha):
        return prior.copy()
    m = len(prior)
    A = Z.reshape(m, -1).T
    b = ys.ravel()
    fit = A @ prior
    c = max(fit @ b / max(fit @ fit, 1e-12), 0.0)
    root = np.sqrt(alpha * len(A))
    w = nnls(np.vstack([A, root * np.eye(m)]), np.concatenate([b, root * c * prior]))[0]
    return _normalised(w, m, fallback=prior)


def _normalised(w, n_members, fallback=None):
    total = w.sum()
    if total > 0:
        return w / total
    return np.full(n_members, 1.0 / n_members) if fallback is None else fallback.copy()


def _simulate(honest, y, rows, X, alphas, calibration_windows):
    """Mean Pearson r on later windows of every simulated subject, for every alpha."""
    if not rows:
        return {}
    n_cal = calibration_windows or max(MIN_REFERENCE_WINDOWS, min(map(len, rows.values())))
    times = getattr(X, "times", None)
    m = len(honest)
    scores = {float(a): [] for a in alphas}
    for g, r in rows.items():
        if len(r) < 2 * n_cal:
            continue
        order = r[np.argsort(times[r], kind="stable")] if times is not None else r
        cal, later = order[:n_cal], order[n_cal:]
        # The pooled weights without this subject's later windows.
        others = [_standardized(honest[:, rr], y[rr]) for h, rr in rows.items() if h != g] + [
            _standardized(honest[:, cal], y[cal])
        ]
        prior = _pooled_weights(others, m)
        Z, ys = _standardized(honest[:, order], y[order], reference=slice(0, n_cal))
        for a in alphas:
            w = _subject_weights(Z[:, :n_cal], ys[:n_cal], prior, a)
            pred = np.einsum("m,mnt->nt", w, Z[:, n_cal:])
            scores[float(a)].append(_mean_r(y[later], pred))
    return {a: float(np.mean(s)) for a, s in scores.items() if s}


def _mean_r(y, pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantTargetWarning)
        return float(pearson_r(y, pred, constant="zero").mean())
