"""Split ROI BOLD into differential signals and their common mode, and back."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import (
    FLOAT_DTYPES,
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._validation import check_option

__all__ = ["CommonModeSplitter"]

COMMON_MODE = "common_mode"


class CommonModeSplitter(TransformerMixin, BaseEstimator):
    """ROI BOLD ``(n, k)`` to ``k`` differential signals plus their common mode.

    The paper predicts, instead of the raw ROI signals, their mean over the
    ROIs (the *common mode*) and each ROI's deviation from it, so that a
    model cannot score well by predicting only the shared fluctuation.

    With ``c = y.mean(axis=1)`` the output is ``[y - w * c, c]``:

    - ``method="mean"`` (the paper): ``w = 1``, plain differences from the
      mean. Stateless, row by row; ``transform`` works without ``fit``.
    - ``method="projection"``: ``w_i = cov(y_i, c) / var(c)`` over the
      fitted samples, i.e. each ROI minus its orthogonal projection on the
      (centred) common-mode time course, as in global-signal regression.
      The differential signals are then uncorrelated with the common mode
      on the fitted data.

    Either way ``inverse_transform`` recovers ``y = diff + w * c`` exactly,
    so a regressor can learn the ``k + 1`` split targets and still report
    the ``k`` ROIs (e.g. inside
    :class:`~sklearn.compose.TransformedTargetRegressor`).

    Parameters
    ----------
    method : {"mean", "projection"}, default="mean"

    Attributes
    ----------
    loadings_ : ndarray of shape (n_rois,)
        ``w``: ones for ``"mean"``, regression slopes for ``"projection"``.
    n_features_in_ : int
        Number of ROIs.
    feature_names_in_ : ndarray of str
        ROI names, when ``y`` was a DataFrame.

    Examples
    --------
    Standalone, to score the differential ROIs and the common mode:

    >>> import numpy as np
    >>> from skeeg2bold.targets import CommonModeSplitter
    >>> y = np.array([[1.0, 3.0], [2.0, 2.0], [4.0, 0.0]])
    >>> split = CommonModeSplitter()
    >>> split.fit_transform(y)
    array([[-1.,  1.,  2.],
           [ 0.,  0.,  2.],
           [ 2., -2.,  2.]])
    >>> np.allclose(split.inverse_transform(split.transform(y)), y)
    True
    >>> split.get_feature_names_out(["thalamus", "caudate"]).tolist()
    ['thalamus', 'caudate', 'common_mode']

    Inside a regressor, which then fits the split targets and predicts ROIs:

    >>> from sklearn.compose import TransformedTargetRegressor
    >>> from sklearn.linear_model import Ridge
    >>> model = TransformedTargetRegressor(Ridge(), transformer=CommonModeSplitter())
    """

    def __init__(self, method="mean"):
        self.method = method

    def fit(self, X, y=None):
        """Learn the loadings (``"projection"``) and the number of ROIs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_rois)
            The BOLD targets (``X`` in scikit-learn's transformer API).
        y : ignored

        Returns
        -------
        self : CommonModeSplitter
        """
        check_option(self.method, ("mean", "projection"), "method")
        X = validate_data(self, X, dtype=FLOAT_DTYPES)
        if self.method == "mean":
            self.loadings_ = np.ones(X.shape[1])
            return self
        if X.shape[0] < 2:
            raise ValueError(
                "method='projection' estimates loadings over samples and needs at "
                f"least 2, got {X.shape[0]} sample."
            )
        common = X.mean(axis=1)
        centred = common - common.mean()
        var = centred @ centred
        if var <= np.finfo(float).eps * max(1.0, float(np.abs(common).max())) ** 2:
            raise ValueError(
                "The common mode of X is constant over the samples, so the loadings "
                "of method='projection' are undefined; use method='mean'."
            )
        self.loadings_ = (X - X.mean(axis=0)).T @ centred / var
        return self

    def transform(self, X):
        """``[X - loadings * common, common]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_rois)

        Returns
        -------
        X_split : ndarray of shape (n_samples, n_rois + 1)
            Differential signals, then the common mode as the last column.
        """
        check_option(self.method, ("mean", "projection"), "method")
        if self.method == "projection":
            check_is_fitted(self, "loadings_")
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        common = X.mean(axis=1, keepdims=True)
        return np.hstack([X - common * self._loadings(X), common])

    def inverse_transform(self, X):
        """Rebuild the ROI signals from differential signals and common mode.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_rois + 1)

        Returns
        -------
        X_rois : ndarray of shape (n_samples, n_rois)
        """
        check_option(self.method, ("mean", "projection"), "method")
        if self.method == "projection":
            check_is_fitted(self, "loadings_")
        X = check_array(X, dtype=FLOAT_DTYPES)
        if X.shape[1] < 2:
            raise ValueError(
                "inverse_transform expects (n_samples, n_rois + 1) columns with the "
                f"common mode last, got shape {X.shape}."
            )
        n_rois = getattr(self, "n_features_in_", X.shape[1] - 1)
        if X.shape[1] != n_rois + 1:
            raise ValueError(
                f"inverse_transform expects {n_rois + 1} columns ({n_rois} ROIs + the "
                f"common mode), got {X.shape[1]}."
            )
        diff, common = X[:, :-1], X[:, -1:]
        return diff + common * self._loadings(diff)

    def get_feature_names_out(self, input_features=None):
        """ROI names followed by ``"common_mode"``.

        Parameters
        ----------
        input_features : list of str, default=None
            ROI names; ``feature_names_in_`` or ``x0, x1, ...`` if omitted.

        Returns
        -------
        names : ndarray of str
        """
        names = list(_check_feature_names_in(self, input_features))
        if COMMON_MODE in names:
            raise ValueError(f"An input feature is already named {COMMON_MODE!r}; rename it.")
        return np.asarray(names + [COMMON_MODE], dtype=object)

    def _loadings(self, X):
        if self.method == "projection":
            return self.loadings_.astype(X.dtype, copy=False)
        return np.ones(X.shape[1], dtype=X.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = self.method == "projection"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
