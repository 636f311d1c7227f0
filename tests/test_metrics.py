import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate

from skeeg2bold.metrics import (
    ConstantTargetWarning,
    correlation_table,
    mean_r,
    mean_r_scorer,
    pearson_r,
)


def test_pearson_r_matches_scipy_per_target():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((50, 4)) + 1e4  # large offset, as BOLD in scanner units
    p = 0.5 * y + rng.standard_normal((50, 4))
    expected = [pearsonr(y[:, k], p[:, k]).statistic for k in range(4)]
    np.testing.assert_allclose(pearson_r(y, p), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pearson_r(y[:, 0], p[:, 0]), expected[:1], rtol=1e-10)
    assert mean_r(y, p) == pytest.approx(np.mean(expected))


def test_constant_columns_warn_and_are_reported():
    y = np.column_stack([np.arange(10.0), np.arange(10.0) ** 2])
    p = np.column_stack([np.ones(10), np.arange(10.0)])
    with pytest.warns(ConstantTargetWarning, match=r"\[0\]"):
        r = pearson_r(y, p)
    assert np.isnan(r[0]) and r[1] == pytest.approx(pearsonr(y[:, 1], p[:, 1]).statistic)
    with pytest.warns(ConstantTargetWarning):
        assert pearson_r(y, p, constant="zero")[0] == 0.0
    with pytest.warns(ConstantTargetWarning):
        assert mean_r(y, p) == pytest.approx(r[1] / 2)


@pytest.mark.parametrize(
    "y, p, match",
    [
        (np.zeros((5, 2)), np.zeros((5, 3)), "differ in shape"),
        (np.zeros((1, 2)), np.zeros((1, 2)), "at least 2 samples"),
        (np.r_[np.nan, 1.0, 2.0], np.ones(3), "y_true contains NaN"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), "must be 1-D"),
    ],
)
def test_bad_input(y, p, match):
    with pytest.raises(ValueError, match=match):
        pearson_r(y, p)


def test_scorer_in_cross_validate_and_grid_search():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 5))
    y = X[:, :2] + 0.5 * rng.standard_normal((120, 2))
    groups = np.repeat(np.arange(4), 30)
    res = cross_validate(Ridge(), X, y, groups=groups, cv=GroupKFold(4), scoring=mean_r_scorer)
    manual = [
        mean_r(y[groups == g], Ridge().fit(X[groups != g], y[groups != g]).predict(X[groups == g]))
        for g in range(4)
    ]
    np.testing.assert_allclose(sorted(res["test_score"]), sorted(manual))
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1e6]}, cv=GroupKFold(4), scoring=mean_r_scorer)
    search.fit(X, y, groups=groups)
    assert search.best_params_ == {"alpha": 0.1}


def test_correlation_table_per_group():
    rng = np.random.default_rng(2)
    y = rng.standard_normal((40, 2))
    p = y + rng.standard_normal((40, 2))
    groups = np.repeat(["a", "b"], 20)
    table = correlation_table(y, p, target_names=["L", "R"], groups=groups, model="ridge")
    assert list(table.columns) == ["target", "r", "n_samples", "group", "model"]
    assert len(table) == 4
    row = table[(table.group == "b") & (table.target == "R")].iloc[0]
    assert row.r == pytest.approx(pearsonr(y[20:, 1], p[20:, 1]).statistic)
    with pytest.raises(ValueError, match="target_names has 3"):
        correlation_table(y, p, target_names=["a", "b", "c"])
