"""SubjectStackingRegressor: members re-weighted by every subject's own labelled windows."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge, SGDRegressor
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from skeeg2bold import DroppedWindowsWarning, EEGWindows, make_windows
from skeeg2bold.ensemble import StandardizedAverageRegressor, SubjectStackingRegressor
from skeeg2bold.metrics import pearson_r

from _helpers import toy_recordings


def channel_mean(X, k):
    """Mean over time of channel ``k`` of every window: a one-feature map."""
    return np.asarray(X, dtype=float)[:, k].mean(axis=-1, keepdims=True)


def reader(k):
    """A member that sees channel ``k`` only."""
    return make_pipeline(FunctionTransformer(channel_mean, kw_args={"k": k}), LinearRegression())


MEMBERS = [("a", reader(0)), ("b", reader(1))]
#: Planted mixing: subject -> weight of what channels 0 and 1 carry in its BOLD.
MIXING = {"sub-0": (1.0, 0.0), "sub-1": (1.0, 0.0), "sub-2": (0.0, 1.0), "sub-3": (0.0, 1.0)}


def planted(n=60, noise=0.3, seed=0):
    """Windows of four subjects whose BOLD follows channel 0 or channel 1, per subject."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(list(MIXING), n)
    X = rng.standard_normal((len(groups), 2, 8))
    features = X.mean(axis=-1)
    mix = np.array([MIXING[g] for g in groups])
    signal = (features * mix).sum(axis=1) / features.std(axis=0).mean()
    y = signal[:, None] + noise * rng.standard_normal((len(groups), 2))
    windows = EEGWindows.from_array(X, sfreq=100.0, ch_names=["c0", "c1"], groups=groups)
    return windows, y


def test_planted_per_subject_mixing_is_recovered():
    X, y = planted()
    model = SubjectStackingRegressor(MEMBERS, alpha=0.0).fit(X, y)
    for subject, (wa, wb) in MIXING.items():
        np.testing.assert_allclose(model.subject_weights_[subject], [wa, wb], atol=0.1)
    # Pooled: the two halves of the subjects ask for the two members equally.
    np.testing.assert_allclose(model.weights_, [0.5, 0.5], atol=0.1)
    # Adapted predictions follow every subject's own channel; pooled ones do not.
    pooled = SubjectStackingRegressor(MEMBERS, alpha=np.inf).fit(X, y)
    assert pooled.subject_weights_["sub-0"].tolist() == pooled.weights_.tolist()
    X_new, y_new = planted(seed=1)
    adapted_r = pearson_r(y_new, model.predict(X_new)).mean()
    pooled_r = pearson_r(y_new, pooled.predict(X_new)).mean()
    assert adapted_r > 0.9 > 0.75 > pooled_r


def test_auto_alpha_is_chosen_by_simulating_the_protocol():
    X, y = planted()
    model = SubjectStackingRegressor(MEMBERS, alphas=[0.0, np.inf], calibration_windows=20).fit(
        X, y
    )
    # Per-subject weights win on every simulated subject's later windows.
    assert sorted(model.alpha_scores_) == [0.0, np.inf]
    assert model.alpha_scores_[0.0] > model.alpha_scores_[np.inf] + 0.2
    assert model.alpha_ == 0.0
    # Shrinkage moves the weights toward the pooled ones, monotonically.
    fits = [SubjectStackingRegressor(MEMBERS, alpha=a).fit(X, y) for a in (0.0, 0.3, 3.0, np.inf)]
    distance = [np.abs(m.subject_weights_["sub-0"] - m.weights_).sum() for m in fits]
    assert distance == sorted(distance, reverse=True) and distance[-1] < 1e-12 < distance[0]


def test_subject_weights_come_from_its_rows_and_the_others_models():
    """A subject's weights: its own fit rows, predicted by members fitted without them."""
    X, y = planted()
    model = SubjectStackingRegressor(MEMBERS, alpha=1.0).fit(X, y)
    # Recomputed by hand: sub-0's rows predicted by the members refitted on the
    # other subjects, standardised on sub-0's rows, shrunk toward the pooled weights.
    own = X.groups == "sub-0"
    rest = np.flatnonzero(~own)
    honest = np.stack(
        [clone(m).fit(X[rest], y[rest]).predict(X[np.flatnonzero(own)]) for _, m in MEMBERS]
    )
    from skeeg2bold.ensemble._adapt import _standardized, _subject_weights

    Z, ys = _standardized(honest, y[own])
    expected = _subject_weights(Z, ys, model.weights_, 1.0)
    np.testing.assert_allclose(model.subject_weights_["sub-0"], expected, rtol=1e-8)


def test_rows_outside_fit_change_nothing_learned():
    """The target's later rows (validation, test) are never read: changing them changes nothing."""
    X, y = planted()
    target = np.flatnonzero(X.groups == "sub-3")
    train = np.concatenate([np.flatnonzero(X.groups != "sub-3"), target[:20]])
    test = target[20:]
    model = SubjectStackingRegressor(MEMBERS).fit(X[train], y[train])
    raw = np.asarray(X).copy()
    raw[test] = 5.0 * np.random.default_rng(1).standard_normal(raw[test].shape)
    X2 = EEGWindows.from_array(raw, sfreq=100.0, ch_names=["c0", "c1"], groups=X.groups)
    y2 = y.copy()
    y2[test] = -y2[test]
    other = SubjectStackingRegressor(MEMBERS).fit(X2[train], y2[train])
    for name in ("weights_", "alpha_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(other, name))
    for subject, w in model.subject_weights_.items():
        np.testing.assert_array_equal(w, other.subject_weights_[subject])
    # Each test window is predicted on its own: the others predicted with it do not matter.
    together = model.predict(X[test])
    alone = np.concatenate([model.predict(X[test[i : i + 1]]) for i in range(len(test))])
    np.testing.assert_allclose(alone, together, rtol=1e-10)


def test_unknown_subject_gets_the_pooled_prediction():
    X, y = planted()
    seen = np.flatnonzero(X.groups != "sub-3")
    unseen = np.flatnonzero(X.groups == "sub-3")
    model = SubjectStackingRegressor(MEMBERS, alpha=0.0).fit(X[seen], y[seen])
    assert "sub-3" not in model.subject_weights_
    pooled = StandardizedAverageRegressor(MEMBERS, weights=model.weights_).fit(X[seen], y[seen])
    np.testing.assert_allclose(model.predict(X[unseen]), pooled.predict(X[unseen]), rtol=1e-10)
    # A seen subject does get its own weights.
    own = np.flatnonzero(X.groups == "sub-0")
    assert not np.allclose(model.predict(X[own]), pooled.predict(X[own]))


def test_one_subject_has_equal_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X[:, 0] + rng.standard_normal(40)
    members = [("a", Ridge()), ("b", Ridge(alpha=100.0))]
    model = SubjectStackingRegressor(members).fit(X, y)
    np.testing.assert_allclose(model.weights_, [0.5, 0.5])
    assert model.subject_weights_ == {}
    average = StandardizedAverageRegressor(members).fit(X, y)
    np.testing.assert_allclose(model.predict(X), average.predict(X), rtol=1e-12)


def test_same_random_state_same_numbers():
    X, y = planted()
    members = [
        ("a", reader(0)),
        (
            "sgd",
            make_pipeline(
                FunctionTransformer(channel_mean, kw_args={"k": 1}), SGDRegressor(random_state=0)
            ),
        ),
    ]

    def fit():
        return SubjectStackingRegressor(members).fit(X, y[:, 0])

    first, second = fit(), fit()
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    for subject, w in first.subject_weights_.items():
        np.testing.assert_array_equal(w, second.subject_weights_[subject])


def test_grid_search_and_clone():
    X, y = planted(n=40)
    model = SubjectStackingRegressor(MEMBERS)
    assert clone(model).get_params()["a__linearregression__fit_intercept"] is True
    search = GridSearchCV(model, {"alpha": [0.0, np.inf]}, cv=GroupKFold(2))
    search.fit(X, y, groups=X.groups)
    assert search.best_params_["alpha"] in (0.0, np.inf)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alpha=-1.0), "alpha must be a non-negative number"),
        (dict(alpha="best"), "alpha must be a non-negative number"),
        (dict(alpha=np.nan), "alpha must be a non-negative number"),
        (dict(alphas=[]), "alphas must be a non-empty sequence"),
        (dict(alphas=[1.0, -2.0]), "alphas must be a non-empty sequence"),
        (dict(alphas=1.0), "alphas must be a non-empty sequence"),
        (dict(calibration_windows=3), "calibration_windows"),
        (dict(estimators=[]), "estimators must be a non-empty list"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    X, y = planted(n=20)
    params = {"estimators": MEMBERS, **kwargs}
    with pytest.raises(ValueError, match=match):
        SubjectStackingRegressor(**params).fit(X, y)


def test_saves_and_loads_without_trusted(tmp_path):
    from skeeg2bold.baselines import make_ridge_baseline, make_riemann_baseline
    from skeeg2bold.persistence import load_model, save_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        data = make_windows(toy_recordings(n_subjects=3, duration=60.0), window=2.0)
    model = SubjectStackingRegressor(
        [
            ("riemann", make_riemann_baseline(n_bins=1, bands={"alpha": (8.0, 13.0)})),
            ("ridge", make_ridge_baseline(log=True, bands={"alpha": (8.0, 13.0)})),
        ]
    ).fit(data.X, data.y)
    assert sorted(model.subject_weights_) == ["sub-0", "sub-1", "sub-2"]
    loaded = load_model(save_model(model, tmp_path / "stacking.skeeg2bold"))
    assert isinstance(loaded, SubjectStackingRegressor)
    np.testing.assert_allclose(loaded.predict(data.X), model.predict(data.X), rtol=1e-6)


@parametrize_with_checks(
    [
        SubjectStackingRegressor([("a", Ridge()), ("b", Ridge(alpha=10.0))]),
        SubjectStackingRegressor([("a", Ridge()), ("b", SGDRegressor(random_state=0))], alpha=1.0),
    ]
)
def test_passes_sklearn_checks(estimator, check):
    check(estimator)
