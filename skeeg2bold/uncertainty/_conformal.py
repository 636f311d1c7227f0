"""Split-conformal prediction intervals per ROI around any fitted model."""

import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils.validation import _num_samples, check_is_fitted

from .._validation import check_positive

__all__ = ["ConformalRegressor"]


class ConformalRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Prediction intervals per ROI, calibrated on held-out contiguous blocks.

    Wraps any regressor of the package (network, baseline or Riemannian
    pipeline, ensemble, aligned pipeline) and gives, with each prediction,
    an interval per target (ROI) meant to hold the true BOLD with
    probability ``coverage``. The intervals are split-conformal with the
    absolute residual as conformity score: on windows the model did not
    learn from (the calibration set), the residual ``|y - y_hat|`` of every
    target is computed and its conformal quantile (the
    ``ceil((n + 1) coverage)``-th smallest of ``n``, computed by MAPIE's
    :class:`~mapie.regression.SplitConformalRegressor`) is the half-width of
    that target's interval. Predicting costs one ``predict`` of the wrapped
    model plus an addition.

    **Autocorrelated BOLD.** Conformal coverage assumes the calibration and
    new residuals exchangeable; consecutive windows of one recording overlap
    and their BOLD is smooth over ~20 s, so they are not. Two things keep
    the intervals honest:

    - calibration windows are contiguous blocks held out *in time* (by
      default the last 20 % of every subject, :class:`~skeeg2bold.
      model_selection.LastBlockSplit`, whose ``gap`` purges the training
      windows within the HRF's memory of the block): a random split of
      overlapping windows would calibrate on near-copies of training
      windows, shrink the residuals and under-cover;
    - the calibration residuals are those of windows like the ones the
      intervals are used on: of held-out subjects (``cv=GroupKFold(3)``
      with the subjects as ``groups`` pools the out-of-subject residuals of
      every third of them). Measured on both simulator families, this keeps
      every ROI within 5 points of nominal for a new subject and under the
      paper's protocol (fitted on its training windows, the target's first
      minute included); the target's own 60 s validation block
      (``cv="prefit"``) is right on average only, and the default's
      within-subject blocks over-cover a new subject by 3 to 5 points.

    Autocorrelation still leaves fewer effectively independent residuals
    than windows, so the realised coverage of one recording varies more
    around ``coverage`` than the ``n``-window formula suggests; the
    guarantee is marginal (over windows and ROIs' recordings), not per
    window. MAPIE is used rather than ``crepes`` for its scikit-learn-style
    API and its maintained finite-sample quantile; the intervals here are
    the plain split-conformal ones, which both libraries compute alike.

    Parameters
    ----------
    estimator : estimator
        Regressor to wrap. With ``cv="prefit"`` it must be fitted and
        ``fit`` only calibrates on the windows it is given (which the
        estimator must not have been trained on).
    coverage : float, default=0.9
        Probability, in (0, 1), that an interval holds the true value.
    cv : splitter, iterable of (train, calibration) or "prefit", default=None
        Where the calibration residuals come from. ``None`` is
        ``LastBlockSplit(0.2)``: the last fifth of every subject. A splitter
        with several splits (e.g. ``LeaveOneGroupOut()``) pools the
        held-out residuals of all its splits (a cross-conformal "CV"
        interval). ``"prefit"``: ``estimator`` is already fitted and the
        windows given to ``fit`` are the calibration block.
    refit : bool, default=True
        With a splitter: fit the estimator on all windows after
        calibration (the deployed model learns from every labelled window;
        it usually errs less than the calibration models, so the intervals
        lean conservative). ``False`` keeps the model of the split (one
        split only), for which the split-conformal guarantee is exact under
        exchangeability.

    Attributes
    ----------
    estimator_ : estimator
        The fitted model that predicts.
    half_width_ : ndarray of shape (n_targets,)
        Half-width of each target's interval.
    n_calibration_ : int
        Calibration windows the quantile was computed from.
    n_features_in_ : int
        From the fitted estimator when it has it.

    See Also
    --------
    skeeg2bold.model_selection.LastBlockSplit : The default calibration block.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.model_selection import KFold
    >>> from skeeg2bold.uncertainty import ConformalRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 3))
    >>> y = np.column_stack([X[:, 0], 2 * X[:, 1]]) + rng.standard_normal((400, 2))
    >>> model = ConformalRegressor(Ridge(), coverage=0.8, cv=KFold(5)).fit(X, y)
    >>> y_hat, lo, hi = model.predict(X[:3], return_interval=True)
    >>> lo.shape, bool(np.all(lo < hi))
    ((3, 2), True)
    """

    def __init__(self, estimator, *, coverage=0.9, cv=None, refit=True):
        self.estimator = estimator
        self.coverage = coverage
        self.cv = cv
        self.refit = refit

    def fit(self, X, y, groups=None, **fit_params):
        """Fit (unless ``cv="prefit"``) and calibrate the intervals.

        Parameters
        ----------
        X : EEGWindows or array-like of shape (n_windows, ...)
            Windows (or features) the wrapped estimator takes.
        y : array-like of shape (n_windows,) or (n_windows, n_targets)
            BOLD targets.
        groups : array-like of shape (n_windows,), default=None
            Subject of each window, for the splitter (``X.groups`` when
            ``X`` is an :class:`~skeeg2bold.EEGWindows`).
        **fit_params
            Passed to the estimator's ``fit``.

        Returns
        -------
        self
        """
        coverage = check_positive(self.coverage, "coverage")
        if coverage >= 1:
            raise ValueError(f"coverage must be in (0, 1), got {self.coverage!r}.")
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = np.asarray(y)
        if y.dtype.kind == "c":  # a cast to float would drop the imaginary part
            raise ValueError("Complex data not supported: y must hold real numbers.")
        y = y.astype(np.float64, copy=False)
        X = indexable(X)[0]  # EEGWindows and arrays as they are
        n_windows = _num_samples(X)
        if y.ndim not in (1, 2) or y.shape[0] != n_windows:
            raise ValueError(
                f"y must have shape (n_windows,) or (n_windows, n_targets) with "
                f"n_windows={n_windows}, got {y.shape}."
            )
        if isinstance(self.cv, str):
            if self.cv != "prefit":
                raise ValueError(
                    f"cv must be a splitter, an iterable or 'prefit', got {self.cv!r}."
                )
            check_is_fitted(self.estimator)
            self.estimator_ = self.estimator
            residuals = np.abs(y - _predict(self.estimator_, X, y.shape))
        else:
            residuals, last = self._cross_residuals(X, y, groups, fit_params)
            if self.refit:
                self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
            else:
                self.estimator_ = last
        residuals = residuals.reshape(len(residuals), -1)
        if not np.all(np.isfinite(residuals)):
            raise ValueError(
                "the calibration residuals hold NaN or inf: the model predicts non-finite "
                "values or y holds them."
            )
        self.half_width_ = _conformal_quantile(residuals, coverage)
        self.n_calibration_ = residuals.shape[0]
        self._y_ndim = y.ndim
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def _cross_residuals(self, X, y, groups, fit_params):
        """Residuals on the held-out windows of every split, and the last split's model."""
        from ..model_selection import LastBlockSplit

        cv = LastBlockSplit(0.2) if self.cv is None else self.cv
        if groups is None:  # sklearn's group splitters do not read X.groups
            groups = getattr(X, "groups", None)
        splits = list(cv.split(X, y, groups) if hasattr(cv, "split") else cv)
        if not splits:
            raise ValueError("cv gave no (train, calibration) split.")
        if not self.refit and len(splits) > 1:
            raise ValueError(
                f"refit=False keeps the model of the split, but cv gives {len(splits)} "
                "splits; use one split or refit=True."
            )
        residuals = np.full(y.shape, np.nan)
        for train, calibration in splits:
            X_train, X_calibration = _safe_indexing(X, train), _safe_indexing(X, calibration)
            model = clone(self.estimator).fit(X_train, y[train], **fit_params)
            residuals[calibration] = np.abs(
                y[calibration] - _predict(model, X_calibration, y[calibration].shape)
            )
        held_out = ~np.isnan(residuals.reshape(len(y), -1)).all(axis=1)
        return residuals[held_out], model

    def predict(self, X, return_interval=False):
        """Predict BOLD and, with ``return_interval``, its interval per target.

        Parameters
        ----------
        X : EEGWindows or array-like
            Windows (or features).
        return_interval : bool, default=False
            Also return the lower and upper bounds.

        Returns
        -------
        y : ndarray of shape (n_windows,) or (n_windows, n_targets)
            The wrapped model's prediction.
        lo, hi : ndarray, same shape as ``y``
            Bounds (only with ``return_interval``): ``y -/+ half_width_``.
        """
        check_is_fitted(self, "half_width_")
        y = np.asarray(self.estimator_.predict(X), dtype=np.float64)
        if not return_interval:
            return y
        width = self.half_width_ if y.ndim == 2 else self.half_width_[0]
        return y, y - width, y + width

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = get_tags(self.estimator).input_tags.sparse
        return tags


def _predict(model, X, shape):
    y_hat = np.asarray(model.predict(X), dtype=np.float64)
    if y_hat.size != math.prod(shape):
        raise ValueError(f"the model predicts shape {y_hat.shape} for targets of shape {shape}.")
    return y_hat.reshape(shape)


class _Lookup(RegressorMixin, BaseEstimator):
    """Predictions already made, looked up by row number.

    Lets MAPIE calibrate on residuals of any model (EEG windows, subject
    labels and all) without predicting again or seeing the windows.
    """

    def __init__(self, predictions):
        self.predictions = predictions

    def fit(self, X, y):  # pragma: no cover - prefit only
        return self

    def predict(self, X):
        return self.predictions[np.asarray(X, dtype=int).ravel()]

    @property
    def is_fitted(self):
        return True


def _conformal_quantile(residuals, coverage):
    """Half-width per target: MAPIE's split-conformal quantile of absolute residuals."""
    from mapie.regression import SplitConformalRegressor

    n, n_targets = residuals.shape
    if math.ceil((n + 1) * coverage) > n:
        raise ValueError(
            f"{n} calibration windows cannot give coverage={coverage:g}: it needs at least "
            f"{math.ceil(coverage / (1 - coverage))}; use a longer calibration block."
        )
    index = np.arange(n)[:, np.newaxis]
    zero = np.zeros(n)
    half_width = np.empty(n_targets)
    for k in range(n_targets):
        # The model "predicts" 0 and the targets are the residuals: the
        # interval's upper bound is the conformal quantile of |residual|.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mapie = SplitConformalRegressor(
                _Lookup(zero), confidence_level=coverage, prefit=True
            ).conformalize(index, residuals[:, k])
            _, bounds = mapie.predict_interval(index[:1])
        half_width[k] = bounds[0, 1, 0]
    return half_width
