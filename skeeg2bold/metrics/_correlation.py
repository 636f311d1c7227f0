"""Pearson correlation per target: the paper's measure of accuracy."""

import warnings

import numpy as np
from sklearn.metrics import make_scorer

from .._validation import check_names, check_real_array

__all__ = [
    "ConstantTargetWarning",
    "correlation_table",
    "mean_r",
    "mean_r_scorer",
    "pearson_r",
]


class ConstantTargetWarning(UserWarning):
    """A target or prediction column is constant, so its correlation is undefined."""


def _as_2d_pair(y_true, y_pred):
    y_true = check_real_array(y_true, "y_true")
    y_pred = check_real_array(y_pred, "y_pred")
    if y_true.ndim not in (1, 2) or y_pred.ndim not in (1, 2):
        raise ValueError(
            "y_true and y_pred must be 1-D (n_samples,) or 2-D (n_samples, n_targets); "
            f"got shapes {y_true.shape} and {y_pred.shape}."
        )
    if y_true.shape[0] != y_pred.shape[0] or y_true.shape[0] < 2:
        raise ValueError(
            "Pearson r needs at least 2 samples, as many in y_true as in y_pred; "
            f"got shapes {y_true.shape} and {y_pred.shape}."
        )
    y_true = y_true.reshape(y_true.shape[0], -1)
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}.")
    if y_true.shape[1] == 0:
        raise ValueError(f"y_true and y_pred have no target column: shape {y_true.shape}.")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values.")
    return y_true, y_pred


def pearson_r(y_true, y_pred, *, constant="nan"):
    """Pearson correlation between true and predicted values, one per target.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
    constant : {"nan", "zero"}, default="nan"
        Value reported for a target whose true or predicted column is
        constant (r is undefined there); a :class:`ConstantTargetWarning`
        names the columns either way.

    Returns
    -------
    r : ndarray of shape (n_targets,)
        One coefficient per target (shape ``(1,)`` for 1-D input).

    Examples
    --------
    >>> from skeeg2bold.metrics import pearson_r
    >>> pearson_r([[1, 2], [2, 1], [3, 3]], [[1, 1], [2, 2], [3, 3]]).round(3)
    array([1. , 0.5])
    """
    if constant not in ("nan", "zero"):
        raise ValueError(f"constant must be 'nan' or 'zero', got {constant!r}.")
    y_true, y_pred = _as_2d_pair(y_true, y_pred)
    yt, const_t = _centred_unit(y_true)
    yp, const_p = _centred_unit(y_pred)
    degenerate = const_t | const_p
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.einsum("ij,ij->j", yt, yp) / np.sqrt(
            np.einsum("ij,ij->j", yt, yt) * np.einsum("ij,ij->j", yp, yp)
        )
    if degenerate.any():
        cols = np.flatnonzero(degenerate).tolist()
        warnings.warn(
            f"Target column(s) {cols} are constant in y_true or y_pred; their "
            f"correlation is undefined and reported as {constant}.",
            ConstantTargetWarning,
            stacklevel=2,
        )
        r[degenerate] = np.nan if constant == "nan" else 0.0
    return np.clip(r, -1.0, 1.0)


def _centred_unit(y):
    """Centre each column and scale it to max |value| 1; flag constant columns.

    Centring first keeps precision on BOLD in scanner units with a large
    offset; scaling before and after keeps the sums of squares finite and
    above underflow for values near the float64 limits (1e300 or 1e-300).
    """
    scale = np.abs(y).max(axis=0)
    scale[scale == 0] = 1.0
    y = y / scale
    y = y - y.mean(axis=0)
    spread = np.abs(y).max(axis=0)
    # Rounding leaves ~n*eps of spread in a constant column of any magnitude.
    constant = spread <= 16 * np.finfo(float).eps * np.sqrt(y.shape[0])
    spread[constant] = 1.0
    return y / spread, constant


def mean_r(y_true, y_pred):
    """Mean Pearson r over targets; constant columns count as r = 0.

    Counting an undefined correlation as zero (no linear relationship found)
    keeps model selection well-defined for a model that predicts a constant.
    """
    return float(np.mean(pearson_r(y_true, y_pred, constant="zero")))


mean_r_scorer = make_scorer(mean_r)
mean_r_scorer.__doc__ = (
    """Scorer for ``scoring=``: mean Pearson r over targets (higher is better)."""
)


def correlation_table(y_true, y_pred, *, target_names=None, groups=None, model=None):
    """Tidy per-target table of Pearson r.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
    target_names : list of str, default=None
        Names of the targets (ROIs); ``"target0", ...`` if omitted.
    groups : array-like of shape (n_samples,), default=None
        If given, r is computed within each group (e.g. subject) and the
        table has one row per group and target.
    model : str, default=None
        Added as a ``model`` column, to concatenate tables of several models.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``target``, ``r``, ``n_samples`` and, when given, ``group``
        and ``model``.
    """
    import pandas as pd

    y_true, y_pred = _as_2d_pair(y_true, y_pred)
    n_targets = y_true.shape[1]
    if target_names is None:
        target_names = [f"target{k}" for k in range(n_targets)]
    target_names = check_names(target_names, n_targets, "target_names")
    if groups is None:
        parts = [(None, np.arange(y_true.shape[0]))]
    else:
        groups = np.asarray(groups)
        if groups.shape != (y_true.shape[0],):
            raise ValueError(f"groups must have shape ({y_true.shape[0]},), got {groups.shape}.")
        parts = [(g, np.flatnonzero(groups == g)) for g in np.unique(groups)]
    rows = []
    for group, idx in parts:
        if idx.size < 2:
            raise ValueError(
                f"group {group!r} has {idx.size} sample; Pearson r needs at least 2 per group."
            )
        r = pearson_r(y_true[idx], y_pred[idx])
        for name, value in zip(target_names, r):
            row = {"target": name, "r": float(value), "n_samples": int(idx.size)}
            if group is not None:
                row["group"] = group
            if model is not None:
                row["model"] = model
            rows.append(row)
    return pd.DataFrame(rows)
