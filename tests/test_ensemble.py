"""SeedEnsembleRegressor and StandardizedAverageRegressor with real sklearn machinery
and the package's networks."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge, SGDRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skeeg2bold import DroppedWindowsWarning, EEGWindows, make_windows
from skeeg2bold.ensemble import SeedEnsembleRegressor, StandardizedAverageRegressor
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


# -- StandardizedAverageRegressor -------------------------------------------
def log_power(X):
    """Log variance of every channel: a feature map that takes EEGWindows."""
    return np.log(np.asarray(X, dtype=float).var(axis=-1))


def power_ridge(alpha):
    return make_pipeline(FunctionTransformer(log_power), Ridge(alpha=alpha))


@pytest.fixture(scope="module")
def three_subjects():
    """Windows of 3 subjects; subject 2's first half is in the fit, its second half is the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        data = make_windows(toy_recordings(n_subjects=3, duration=60.0), window=2.0)
    target = np.flatnonzero(data.groups == "sub-2")
    half = len(target) // 2
    train = np.concatenate([np.flatnonzero(data.groups != "sub-2"), target[:half]])
    return data, train, target[half:]


def _standardized_mean(predictions, fit_predictions, weights):
    """The ensemble's answer, written out: z-scores by the fit rows, weighted, rescaled."""
    w = np.asarray(weights)[:, None]
    loc = np.array([p.mean(axis=0) for p in fit_predictions])
    sd = np.array([p.std(axis=0) for p in fit_predictions])
    z = [(p - m) / s for p, m, s in zip(predictions, loc, sd)]
    return np.tensordot(weights, z, axes=1) * (w * sd).sum(axis=0) + (w * loc).sum(axis=0)


@pytest.mark.parametrize("weights", [None, [3.0, 1.0]])
def test_average_is_the_weighted_mean_of_standardized_predictions(three_subjects, weights):
    data, train, test = three_subjects
    X, y = data.X[train], data.y[train]
    members = [power_ridge(1.0).fit(X, y), power_ridge(1e3).fit(X, y)]
    ensemble = StandardizedAverageRegressor(
        [("weak", power_ridge(1.0)), ("strong", power_ridge(1e3))],
        weights=weights,
        standardize="pooled",
    ).fit(X, y)
    w = np.array([0.5, 0.5] if weights is None else [0.75, 0.25])
    np.testing.assert_allclose(ensemble.weights_, w)
    expected = _standardized_mean(
        [m.predict(data.X[test]) for m in members], [m.predict(X) for m in members], w
    )
    np.testing.assert_allclose(ensemble.predict(data.X[test]), expected, rtol=1e-10)
    # The members' scales differ, so a plain mean would weigh them otherwise.
    sd = [m.predict(X).std(axis=0).mean() for m in members]
    assert sd[0] > 2 * sd[1]
    plain = np.tensordot(w, [m.predict(data.X[test]) for m in members], axes=1)
    assert not np.allclose(plain, expected)


def test_subject_statistics_come_from_that_subjects_fit_rows(three_subjects):
    data, train, test = three_subjects
    X, y = data.X[train], data.y[train]
    ensemble = StandardizedAverageRegressor(
        [("weak", power_ridge(1.0)), ("strong", power_ridge(1e3))]
    ).fit(X, y)
    assert sorted(ensemble.subject_location_) == ["sub-0", "sub-1", "sub-2"]
    own = data.groups[train] == "sub-2"
    fit_predictions = [m.predict(X[own]) for m in ensemble.estimators_]
    np.testing.assert_allclose(
        ensemble.subject_location_["sub-2"], [p.mean(axis=0) for p in fit_predictions]
    )
    np.testing.assert_allclose(
        ensemble.subject_scale_["sub-2"], [p.std(axis=0) for p in fit_predictions]
    )
    predicted = ensemble.predict(data.X[test])
    expected = _standardized_mean(
        [m.predict(data.X[test]) for m in ensemble.estimators_], fit_predictions, [0.5, 0.5]
    )
    np.testing.assert_allclose(predicted, expected, rtol=1e-10)
    # The pooled statistics would give another answer for this subject.
    pooled = StandardizedAverageRegressor(ensemble.estimators, standardize="pooled").fit(X, y)
    assert not np.allclose(pooled.predict(data.X[test]), predicted)


def test_test_windows_change_nothing_learned(three_subjects):
    """Each window is predicted from what fit learned: not from the other windows predicted."""
    data, train, test = three_subjects
    ensemble = StandardizedAverageRegressor(
        [("weak", power_ridge(1.0)), ("strong", power_ridge(1e3))]
    ).fit(data.X[train], data.y[train])
    together = ensemble.predict(data.X[test])
    alone = np.concatenate([ensemble.predict(data.X[test[i : i + 1]]) for i in range(len(test))])
    np.testing.assert_allclose(alone, together, rtol=1e-10)
    # A perturbed test window changes its own prediction only.
    X = np.asarray(data.X[test]).copy()
    X[0] *= 3.0
    windows = EEGWindows.from_array(
        X, sfreq=data.X.sfreq, ch_names=data.X.ch_names, groups=data.groups[test]
    )
    perturbed = ensemble.predict(windows)
    assert not np.allclose(perturbed[0], together[0])
    np.testing.assert_allclose(perturbed[1:], together[1:], rtol=1e-10)


def test_new_subject_falls_back_to_the_pooled_statistics(three_subjects):
    data, _, test = three_subjects
    seen = np.flatnonzero(data.groups != "sub-2")
    members = [("weak", power_ridge(1.0)), ("strong", power_ridge(1e3))]
    by_subject = StandardizedAverageRegressor(members).fit(data.X[seen], data.y[seen])
    pooled = StandardizedAverageRegressor(members, standardize="pooled").fit(
        data.X[seen], data.y[seen]
    )
    assert "sub-2" not in by_subject.subject_location_
    assert pooled.subject_location_ == {}
    np.testing.assert_allclose(by_subject.location_, pooled.location_)
    np.testing.assert_allclose(
        by_subject.predict(data.X[test]), pooled.predict(data.X[test]), rtol=1e-10
    )
    # Seen subjects do use their own statistics.
    own = np.flatnonzero(data.groups == "sub-0")
    assert not np.allclose(by_subject.predict(data.X[own]), pooled.predict(data.X[own]))


def test_one_member_or_identical_members_predict_as_the_member(three_subjects):
    data, train, test = three_subjects
    X, y = data.X[train], data.y[train]
    member = power_ridge(10.0).fit(X, y)
    one = [("a", power_ridge(10.0))]
    for members in (one, [*one, ("b", power_ridge(10.0))]):
        ensemble = StandardizedAverageRegressor(members).fit(X, y)
        np.testing.assert_allclose(
            ensemble.predict(data.X[test]), member.predict(data.X[test]), rtol=1e-9, atol=1e-12
        )


def test_constant_member_adds_its_constant(data):
    X, y = data.y, data.y[:, 0] + 0.1 * np.arange(len(data.y)) % 3
    ensemble = StandardizedAverageRegressor([("ridge", Ridge()), ("mean", DummyRegressor())]).fit(
        X, y
    )
    np.testing.assert_array_equal(ensemble.scale_[1], 1.0)
    ridge = Ridge().fit(X, y).predict(X)
    # Equal weights: half the ridge's z-score, on the mean of the scales (sd and 1).
    z = (ridge - ridge.mean()) / ridge.std()
    expected = z / 2 * (ridge.std() + 1) / 2 + (ridge.mean() + y.mean()) / 2
    np.testing.assert_allclose(ensemble.predict(X), expected, rtol=1e-10)


def test_average_same_random_state_same_numbers(data):
    def fit():
        net = EEG2BoldRegressor(CompactNet, random_state=0, **NET)
        return (
            StandardizedAverageRegressor([("net", net), ("ridge", power_ridge(1.0))])
            .fit(data.X, data.y)
            .predict(data.X)
        )

    np.testing.assert_array_equal(fit(), fit())


def test_average_grid_search_and_clone(three_subjects):
    data, train, _ = three_subjects
    ensemble = StandardizedAverageRegressor(
        [("weak", power_ridge(1.0)), ("strong", power_ridge(1e3))]
    )
    copy = clone(ensemble).set_params(weak__ridge__alpha=5.0)
    assert copy.get_params()["weak__ridge__alpha"] == 5.0
    assert ensemble.get_params()["weak__ridge__alpha"] == 1.0
    search = GridSearchCV(
        ensemble,
        {"strong__ridge__alpha": [10.0, 1e3], "weights": [None, [1.0, 2.0]]},
        cv=TimeBlockedSplit(2, window=2.0),
    )
    search.fit(data.X[train], data.y[train])
    assert search.best_estimator_.predict(data.X[train]).shape == data.y[train].shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(estimators=[]), "estimators must be a non-empty list"),
        (dict(estimators=[Ridge()]), r"list of \(name, estimator\) tuples"),
        (dict(estimators=[("a", Ridge()), ("a", Ridge())]), "Names provided are not unique"),
        (dict(weights=[1.0]), r"weights must have one value per estimator \(2\)"),
        (dict(weights=[1.0, -1.0]), "weights must be finite, non-negative"),
        (dict(weights=[0.0, 0.0]), "not all zero"),
        (dict(standardize="robust"), "standardize"),
    ],
)
def test_average_bad_arguments_are_named(data, kwargs, match):
    kwargs = {"estimators": [("a", Ridge()), ("b", Ridge(alpha=10.0))], **kwargs}
    with pytest.raises(ValueError, match=match):
        StandardizedAverageRegressor(**kwargs).fit(data.y, data.y[:, 0])


def test_members_must_predict_the_same_targets(data):
    class FirstTarget(Ridge):
        def predict(self, X):
            return super().predict(X)[:, :1]

    with pytest.raises(ValueError, match="predict different shapes"):
        StandardizedAverageRegressor([("a", Ridge()), ("b", FirstTarget())]).fit(data.y, data.y)


@parametrize_with_checks(
    [
        StandardizedAverageRegressor([("a", Ridge()), ("b", Ridge(alpha=10.0))]),
        StandardizedAverageRegressor(
            [("a", Ridge()), ("b", SGDRegressor(random_state=0))],
            weights=[2.0, 1.0],
            standardize="pooled",
        ),
    ]
)
def test_average_passes_sklearn_checks(estimator, check):
    check(estimator)


def test_average_of_a_network_and_a_baseline_saves_and_loads(data, tmp_path):
    from skeeg2bold.baselines import make_riemann_baseline
    from skeeg2bold.persistence import load_model, save_model

    ensemble = StandardizedAverageRegressor(
        [
            ("riemann", make_riemann_baseline(n_bins=1, bands={"alpha": (8.0, 13.0)})),
            ("net", EEG2BoldRegressor(CompactNet, random_state=0, **NET)),
        ]
    ).fit(data.X, data.y)
    loaded = load_model(save_model(ensemble, tmp_path / "average.skeeg2bold"))
    assert isinstance(loaded, StandardizedAverageRegressor)
    assert sorted(loaded.subject_location_) == sorted(ensemble.subject_location_)
    np.testing.assert_allclose(loaded.predict(data.X), ensemble.predict(data.X), rtol=1e-6)
