"""ConformalRegressor: split-conformal intervals per ROI around any model."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, LeaveOneGroupOut

from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.model_selection import LastBlockSplit
from skeeg2bold.uncertainty import ConformalRegressor

BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0)}


def _toy(n=600, seed=0, noise=(1.0, 3.0)):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = np.column_stack([X[:, 0], 2 * X[:, 1]]) + rng.standard_normal((n, 2)) * noise
    return X, y


@settings(max_examples=25, deadline=None)
@given(n=st.integers(10, 200), coverage=st.sampled_from([0.5, 0.8, 0.9]), seed=st.integers(0, 99))
def test_half_width_is_the_conformal_order_statistic(n, coverage, seed):
    if math.ceil((n + 1) * coverage) > n:
        return
    X, y = _toy(2 * n, seed)
    model = Ridge().fit(X[:n], y[:n])
    conformal = ConformalRegressor(model, coverage=coverage, cv="prefit").fit(X[n:], y[n:])
    residuals = np.sort(np.abs(y[n:] - model.predict(X[n:])), axis=0)
    k = math.ceil((n + 1) * coverage)  # the k-th smallest residual of each target
    np.testing.assert_allclose(conformal.half_width_, residuals[k - 1])
    assert conformal.n_calibration_ == n


def test_one_interval_per_roi_with_the_nominal_coverage():
    X, y = _toy(4000)
    model = ConformalRegressor(Ridge(), coverage=0.8, cv=KFold(5)).fit(X[:2000], y[:2000])
    y_hat, lo, hi = model.predict(X[2000:], return_interval=True)
    assert y_hat.shape == lo.shape == hi.shape == (2000, 2)
    np.testing.assert_allclose(hi - lo, np.broadcast_to(2 * model.half_width_, lo.shape))
    # The noisier ROI gets the wider interval; each covers about 80 %.
    assert model.half_width_[1] > 2.5 * model.half_width_[0]
    covered = ((y[2000:] >= lo) & (y[2000:] <= hi)).mean(axis=0)
    np.testing.assert_allclose(covered, 0.8, atol=0.03)
    np.testing.assert_array_equal(model.predict(X[2000:]), y_hat)


def test_single_output_keeps_its_shape():
    X, y = _toy()
    model = ConformalRegressor(Ridge(), cv=KFold(3)).fit(X, y[:, 0])
    y_hat, lo, hi = model.predict(X[:5], return_interval=True)
    assert y_hat.shape == lo.shape == hi.shape == (5,)


def test_default_calibration_is_the_last_block_of_each_subject(small_sim_windows):
    X, y = small_sim_windows
    base = make_ridge_baseline(bands=BANDS)
    model = ConformalRegressor(base, coverage=0.8, refit=False).fit(X, y)
    train, calibration = next(LastBlockSplit(0.2).split(X))
    fitted = make_ridge_baseline(bands=BANDS).fit(X[train], y[train])
    residuals = np.sort(np.abs(y[calibration] - fitted.predict(X[calibration])), axis=0)
    k = math.ceil((len(calibration) + 1) * 0.8)
    np.testing.assert_allclose(model.half_width_, residuals[k - 1])
    np.testing.assert_allclose(model.predict(X), fitted.predict(X))


def test_leave_one_subject_out_pools_every_subjects_residuals(small_sim_windows):
    X, y = small_sim_windows
    model = ConformalRegressor(make_ridge_baseline(bands=BANDS), cv=LeaveOneGroupOut())
    model.fit(X, y)
    assert model.n_calibration_ == len(X)
    np.testing.assert_allclose(
        model.predict(X), make_ridge_baseline(bands=BANDS).fit(X, y).predict(X)
    )


@pytest.mark.parametrize(
    ("kwargs", "n", "match"),
    [
        ({"coverage": 1.0}, 100, "coverage must be in"),
        ({"coverage": -0.1}, 100, "coverage"),
        ({"cv": "nope"}, 100, "cv must be"),
        ({"cv": KFold(3), "refit": False}, 100, "refit=False"),
        ({"coverage": 0.9, "cv": KFold(2)}, 8, "calibration windows cannot give coverage"),
    ],
)
def test_bad_arguments_are_named(kwargs, n, match):
    X, y = _toy(n)
    with pytest.raises(ValueError, match=match):
        ConformalRegressor(Ridge(), **kwargs).fit(X, y)


def test_prefit_needs_a_fitted_model_and_rejects_mismatched_y():
    X, y = _toy()
    with pytest.raises(Exception, match="not fitted"):
        ConformalRegressor(Ridge(), cv="prefit").fit(X, y)
    with pytest.raises(ValueError, match="y must have shape"):
        ConformalRegressor(Ridge(), cv=KFold(3)).fit(X, y[:-1])


def test_complex_targets_are_refused_not_cast():
    # np.asarray(y, float) would keep the real part and only warn.
    X, y = _toy()
    with pytest.raises(ValueError, match="Complex data not supported: y"):
        ConformalRegressor(Ridge(), cv=KFold(3)).fit(X, y + 1j)
