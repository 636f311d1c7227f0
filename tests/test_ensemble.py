"""SeedEnsembleRegressor with real sklearn machinery and the package's networks."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge, SGDRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skeeg2bold import DroppedWindowsWarning, make_windows
from skeeg2bold.ensemble import SeedEnsembleRegressor
from skeeg2bold.model_selection import TimeBlockedSplit
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor

from _helpers import toy_recordings

NET = dict(module__n_branches=3, module__n_lags=2, max_epochs=2, train_split=None)


@pytest.fixture(scope="module")
def data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        return make_windows(toy_recordings(duration=60.0), window=2.0)


def test_prediction_is_the_members_mean(data):
    ensemble = SeedEnsembleRegressor(
        EEG2BoldRegressor(CompactNet, **NET), n_members=3, random_state=0
    ).fit(data.X, data.y)
    assert len(ensemble.estimators_) == 3 and len(set(ensemble.seeds_)) == 3
    assert [m.random_state for m in ensemble.estimators_] == list(ensemble.seeds_)
    members = [m.predict(data.X) for m in ensemble.estimators_]
    assert not np.allclose(members[0], members[1])  # the seeds make a difference
    np.testing.assert_allclose(ensemble.predict(data.X), np.mean(members, axis=0))
    assert ensemble.predict(data.X).shape == data.y.shape
    assert ensemble.n_features_in_ == data.X.shape[1]
    # The estimator given is left untouched.
    assert ensemble.estimator.random_state is None


def test_same_random_state_same_numbers(data):
    def fit(rs):
        return (
            SeedEnsembleRegressor(
                EEG2BoldRegressor(CompactNet, **NET), n_members=2, random_state=rs
            )
            .fit(data.X, data.y)
            .predict(data.X)
        )

    np.testing.assert_array_equal(fit(3), fit(3))
    assert not np.allclose(fit(3), fit(4))
    # Adding members keeps the first members' seeds.
    two = SeedEnsembleRegressor(Ridge(), n_members=2, random_state=5).fit(data.y, data.y[:, 0])
    three = SeedEnsembleRegressor(Ridge(), n_members=3, random_state=5).fit(data.y, data.y[:, 0])
    np.testing.assert_array_equal(three.seeds_[:2], two.seeds_)


def test_parallel_members_match_serial(data):
    X, y = data.y, data.y[:, 0] + 0.1 * np.arange(len(data.y)) % 3
    base = SGDRegressor(max_iter=50, tol=None)
    serial = SeedEnsembleRegressor(base, n_members=4, random_state=0).fit(X, y)
    parallel = SeedEnsembleRegressor(base, n_members=4, random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(serial.predict(X), parallel.predict(X))


def test_seed_param_reaches_a_pipeline_step(data):
    pipe = make_pipeline(StandardScaler(), SGDRegressor(max_iter=50, tol=None))
    ensemble = SeedEnsembleRegressor(
        pipe, n_members=2, seed_param="sgdregressor__random_state", random_state=0
    ).fit(data.y, data.y[:, 0])
    seeds = [m.get_params()["sgdregressor__random_state"] for m in ensemble.estimators_]
    assert seeds == list(ensemble.seeds_)


def test_grid_search_and_clone(data):
    ensemble = SeedEnsembleRegressor(
        EEG2BoldRegressor(CompactNet, **NET), n_members=2, random_state=0
    )
    copy = clone(ensemble)
    assert copy.get_params()["estimator__module__n_branches"] == 3
    search = GridSearchCV(
        ensemble,
        {"estimator__module__n_lags": [1, 2]},
        cv=TimeBlockedSplit(2, window=2.0),
        scoring="r2",
    )
    search.fit(data.X, data.y)
    assert search.best_params_["estimator__module__n_lags"] in (1, 2)
    assert search.best_estimator_.predict(data.X).shape == data.y.shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_members=0), "n_members must be a positive integer"),
        (dict(n_members=2.5), "n_members must be a positive integer"),
        (dict(seed_param="seed"), "no parameter 'seed'"),
        (dict(random_state="0"), "random_state must be an integer or None"),
    ],
)
def test_bad_arguments_are_named(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        SeedEnsembleRegressor(Ridge(), **kwargs).fit(data.y, data.y[:, 0])


def test_predict_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SeedEnsembleRegressor(Ridge()).predict(np.zeros((2, 2)))
