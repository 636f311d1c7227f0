"""EEG2BoldRegressor with real skorch and scikit-learn machinery, on a toy problem."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skeeg2bold import DroppedWindowsWarning, Recording, make_windows
from skeeg2bold.metrics import mean_r_scorer, pearson_r
from skeeg2bold.nn import (
    CompactNet,
    EEG2BoldNet,
    EEG2BoldRegressor,
    TimeBlockedValidSplit,
)

from _helpers import TOY_CH_NAMES as CH_NAMES
from _helpers import TOY_SFREQ as SFREQ
from _helpers import toy_recordings

TINY_DEEP = dict(
    module__n_branches=4,
    module__embed_dim=8,
    module__n_heads=2,
    module__n_blocks=1,
    module__kernel_size=3,
    module__post_hidden=8,
)


@pytest.fixture(scope="module")
def data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        return make_windows(toy_recordings(), window=2.0)


def test_learns_the_toy_problem(data):
    train = data.bold_times < 90
    test = data.bold_times > 100
    reg = EEG2BoldRegressor(
        CompactNet, max_epochs=15, lr=1e-2, random_state=0, module__n_branches=4, module__n_lags=4
    )
    reg.fit(data.X[train], data.y[train])
    y_pred = reg.predict(data.X[test])
    assert y_pred.shape == (test.sum(), 2)
    assert np.all(pearson_r(data.y[test], y_pred) > 0.6)
    # Outputs are calibrated to the units of y, not left at the network's scale.
    assert np.allclose(reg.predict(data.X[train]).mean(0), data.y[train].mean(0), atol=1e-6)
    assert reg.score(data.X[test], data.y[test]) > 0


def test_fitted_attributes_and_untouched_params(data):
    reg = EEG2BoldRegressor(EEG2BoldNet, max_epochs=1, random_state=0, **TINY_DEEP)
    params = reg.get_params(deep=False)
    reg.fit(data.X, data.y)
    assert (reg.n_chans_, reg.n_times_, reg.n_outputs_) == (8, 100, 2)
    assert reg.sfreq_ == SFREQ and reg.ch_names_ == CH_NAMES
    assert reg.module_.n_chans == 8 and reg.module_.n_times == 100
    assert "module__n_chans" not in reg.get_params()
    after = reg.get_params(deep=False)
    assert set(after) == set(params)
    assert all(after[k] is params[k] or after[k] == params[k] for k in params)


def test_plain_array_and_1d_target(data):
    X = np.asarray(data.X)
    reg = EEG2BoldRegressor(
        CompactNet, sfreq=SFREQ, max_epochs=2, random_state=0, module__n_branches=3
    )
    y_pred = reg.fit(X, data.y[:, 0], groups=data.groups).predict(X)
    assert y_pred.shape == (len(X),)
    with pytest.raises(ValueError, match="sfreq"):
        EEG2BoldRegressor(CompactNet, max_epochs=1).fit(X, data.y)
    with pytest.raises(ValueError, match="sfreq=25.0 disagrees"):
        EEG2BoldRegressor(CompactNet, max_epochs=1, sfreq=25.0).fit(data.X, data.y)


def test_same_random_state_same_numbers(data):
    fits = [
        EEG2BoldRegressor(EEG2BoldNet, max_epochs=2, random_state=3, **TINY_DEEP).fit(
            data.X, data.y
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].predict(data.X), fits[1].predict(data.X))
    np.testing.assert_array_equal(
        fits[0].history[:, "train_loss"], fits[1].history[:, "train_loss"]
    )
    other = EEG2BoldRegressor(EEG2BoldNet, max_epochs=2, random_state=4, **TINY_DEEP)
    assert not np.array_equal(other.fit(data.X, data.y).predict(data.X), fits[0].predict(data.X))


def test_predictions_ignore_the_bold_encoder(data):
    reg = EEG2BoldRegressor(EEG2BoldNet, max_epochs=2, random_state=0, **TINY_DEEP)
    before = reg.fit(data.X, data.y).predict(data.X)
    with torch.no_grad():
        for p in reg.module_.bold_encoder.parameters():
            p.copy_(torch.randn_like(p) * 10)
    np.testing.assert_array_equal(reg.predict(data.X), before)


def test_bold_reaches_the_bold_encoder_in_training(data):
    seen = []
    reg = EEG2BoldRegressor(
        EEG2BoldNet, max_epochs=1, random_state=0, train_split=None, **TINY_DEEP
    )
    reg.initialize_module = _spy(reg.initialize_module, seen)
    reg.fit(data.X, data.y)
    assert seen and seen[0] == (reg.batch_size, 2)


def _spy(initialize_module, seen):
    def wrapped():
        net = initialize_module()
        encoder = net.module_.bold_encoder
        original = encoder.forward

        def forward(x):
            seen.append(tuple(x.shape[:2]))
            return original(x)

        encoder.forward = forward
        return net

    return wrapped


def test_clone_pickle_set_params(data):
    reg = EEG2BoldRegressor(EEG2BoldNet, max_epochs=1, random_state=0, **TINY_DEEP)
    cloned = clone(reg)
    assert cloned.get_params()["module__embed_dim"] == 8
    assert not hasattr(cloned, "module_")
    reg.fit(data.X, data.y)
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(data.X), reg.predict(data.X))
    reg.set_params(module__n_blocks=2)
    assert len(reg.module_.eeg_encoder.blocks) == 2
    assert reg.module_.n_chans == 8  # inferred shapes survive re-initialisation


def test_mismatched_inputs_raise(data):
    reg = EEG2BoldRegressor(CompactNet, max_epochs=1, random_state=0, module__n_branches=3).fit(
        data.X, data.y
    )
    renamed = make_windows(
        [
            Recording(
                r.eeg,
                r.bold,
                r.volume_times,
                sfreq=SFREQ,
                ch_names=[c + "x" for c in CH_NAMES],
                subject=r.subject,
            )
            for r in toy_recordings(1, 30.0)
        ],
        window=2.0,
    )
    with pytest.raises(ValueError, match="other channels"):
        reg.predict(renamed.X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        resampled = make_windows(toy_recordings(1, 30.0), window=4.0, sfreq=25.0)
    with pytest.raises(ValueError, match="25 Hz"):
        reg.predict(resampled.X)
    with pytest.raises(ValueError, match="shape"):
        reg.predict(np.zeros((3, 7, 100)))
    with pytest.raises(ValueError, match="NaN"):
        reg.fit(np.full((10, 8, 100), np.nan), np.ones((10, 2)))
    with pytest.raises(ValueError, match="constant"):
        reg.fit(data.X, np.ones(len(data.X)))
    with pytest.raises(ValueError, match="rows"):
        reg.fit(data.X, data.y[:-1])


def test_time_blocked_validation_split(data):
    split = TimeBlockedValidSplit(valid_size=0.2, gap=5.0)
    train, valid = split.split_indices(data.X)
    assert np.intersect1d(train, valid).size == 0
    for subject in np.unique(data.groups):
        own_train = train[data.groups[train] == subject]
        own_valid = valid[data.groups[valid] == subject]
        # The validation block is the subject's final stretch...
        assert data.times[own_valid].min() > data.times[own_train].max()
        assert own_valid.size == np.ceil(0.2 * (data.groups == subject).sum())
        # ...and no training window's EEG comes within window + gap of it.
        assert data.times[own_valid].min() - data.times[own_train].max() >= 2.0 + 5.0
    # Plain arrays: row order, n_gap rows skipped, groups from the fit parameter.
    train, valid = TimeBlockedValidSplit(valid_size=0.25, n_gap=3).split_indices(
        np.zeros((40, 1, 1)), groups=np.repeat([0, 1], 20)
    )
    np.testing.assert_array_equal(valid, np.r_[15:20, 35:40])
    np.testing.assert_array_equal(train, np.r_[0:12, 20:32])


def test_early_stopping_restores_the_best_epoch(data):
    reg = EEG2BoldRegressor(
        EEG2BoldNet,
        max_epochs=6,
        lr=3e-3,
        patience=2,
        batch_size=512,
        refit_readout=False,
        random_state=0,
        **TINY_DEEP,
    ).fit(data.X, data.y)
    assert "early_stopping" in dict(reg.callbacks_)
    _, valid = reg.train_split.split_indices(data.X)
    outputs = (reg.predict(data.X[valid]) - reg.output_intercept_) / reg.output_coef_
    restored_loss = -np.mean(pearson_r(data.y[valid], outputs))
    assert restored_loss == pytest.approx(min(reg.history[:, "valid_loss"]), abs=1e-4)


@pytest.mark.parametrize(
    "module, kwargs",
    [
        (CompactNet, dict(module__n_branches=4)),
        (CompactNet, {}),  # fixed, cached band filters
        (EEG2BoldNet, dict(TINY_DEEP, module__skip_lags=0)),
    ],
)
def test_readout_is_the_cross_validated_ridge_solution(data, module, kwargs):
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler

    alphas = (0.1, 10.0, 1000.0)
    reg = EEG2BoldRegressor(
        module, max_epochs=2, readout_alphas=alphas, random_state=0, **kwargs
    ).fit(data.X, data.y)
    features, _ = reg._readout_inputs(data.X)
    target = (data.y - reg.y_mean_) / reg.y_std_
    scaler = StandardScaler().fit(features)
    ridge = RidgeCV(alphas=alphas, cv=KFold(5)).fit(scaler.transform(features), target)
    assert reg.readout_alpha_ == ridge.alpha_
    # The network itself (no post-processing but the affine calibration) now
    # computes the ridge's predictions.
    raw = (reg.predict(data.X) - reg.output_intercept_) / reg.output_coef_
    np.testing.assert_allclose(raw, ridge.predict(scaler.transform(features)), atol=2e-3)
    # Without the refit the readout keeps its trained weights.
    plain = EEG2BoldRegressor(
        module, max_epochs=2, refit_readout=False, random_state=0, **kwargs
    ).fit(data.X, data.y)
    assert plain.readout_alpha_ is None
    assert not np.allclose(plain.predict(data.X), reg.predict(data.X))


def test_linear_path_is_resolved_on_what_the_deep_path_leaves(data):
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler

    alphas = (0.1, 10.0, 1000.0)
    reg = EEG2BoldRegressor(
        EEG2BoldNet,
        max_epochs=2,
        readout_alphas=alphas,
        random_state=0,
        **TINY_DEEP,
        module__skip_lags=2,
    ).fit(data.X, data.y)
    lagged, deep = reg._readout_inputs(data.X)  # the deep path already scaled to the targets
    assert lagged.shape == (len(data.X), 4 * 2)
    target = (data.y - reg.y_mean_) / reg.y_std_
    # The scaled deep path is the least-squares fit of the targets on it over the
    # validation windows, which it was not trained on (a negative scale is zero)...
    rows = reg._validation_rows(data.X)
    assert 2 < len(rows) < len(data.X) / 4
    held, t = deep[rows], target[rows]
    kept = np.any(deep != 0, axis=0)
    np.testing.assert_allclose(
        ((held - held.mean(0)) * (t - held)).sum(0)[kept], 0, atol=1e-3 * len(rows)
    )
    # ... and the linear path is the cross-validated ridge on what it leaves.
    scaler = StandardScaler().fit(lagged)
    ridge = RidgeCV(alphas=alphas, cv=KFold(5)).fit(scaler.transform(lagged), target - deep)
    assert reg.readout_alpha_ == ridge.alpha_
    raw = (reg.predict(data.X) - reg.output_intercept_) / reg.output_coef_
    np.testing.assert_allclose(raw, deep + ridge.predict(scaler.transform(lagged)), atol=2e-3)


def test_partial_fit_trains_the_readout_by_gradient(data):
    reg = EEG2BoldRegressor(
        CompactNet, max_epochs=1, train_split=None, random_state=0, module__n_branches=4
    ).fit(data.X, data.y)
    assert reg.readout_alpha_ is not None  # fit re-solved it
    solved = reg.module_.readout.weight.detach().clone()
    reg.partial_fit(data.X[:40], data.y[:40])
    moved = reg.module_.readout.weight.detach()
    # One more epoch of gradient steps, not a ridge on 40 windows: close to the
    # solved weights, not equal to them.
    assert not torch.equal(moved, solved)
    assert torch.linalg.norm(moved - solved) < 0.5 * torch.linalg.norm(solved)
    assert "_in_fit_" not in reg.get_params()
    online = EEG2BoldRegressor(
        CompactNet, max_epochs=1, train_split=None, random_state=0, module__n_branches=4
    ).partial_fit(data.X, data.y)
    assert online.readout_alpha_ is None


class _OpaqueNet(torch.nn.Module):
    """A user's network without readout_features / readout_layer."""

    def __init__(self, n_chans, n_times, n_outputs, sfreq):
        super().__init__()
        self.linear = torch.nn.Linear(n_chans, n_outputs)

    def forward(self, x):
        return self.linear(x.pow(2).mean(-1))


def test_refit_readout_options(data):
    auto = EEG2BoldRegressor(_OpaqueNet, max_epochs=1, random_state=0).fit(data.X, data.y)
    assert auto.readout_alpha_ is None  # "auto" skips modules that hide their readout
    with pytest.raises(ValueError, match="refit_readout=True needs a module"):
        EEG2BoldRegressor(_OpaqueNet, max_epochs=1, refit_readout=True).fit(data.X, data.y)
    with pytest.raises(ValueError, match="refit_readout must be"):
        EEG2BoldRegressor(CompactNet, max_epochs=1, refit_readout="yes").fit(data.X, data.y)
    for bad in ([], [0.0, 1.0], [np.nan]):
        with pytest.raises(ValueError, match="readout_alphas must be"):
            EEG2BoldRegressor(CompactNet, max_epochs=1, readout_alphas=bad).fit(data.X, data.y)


def test_grid_search_over_architectures_and_pipelines(data):
    deep = EEG2BoldRegressor(EEG2BoldNet, max_epochs=1, random_state=0)
    log_power = make_pipeline(
        FunctionTransformer(lambda X: np.log(np.var(np.asarray(X), axis=2))), Ridge()
    )
    pipe = Pipeline([("model", deep)])
    grid = [
        {
            "model": [deep],
            "model__module": [EEG2BoldNet],
            **{"model__" + k: [v] for k, v in TINY_DEEP.items()},
            "model__module__n_blocks": [1, 2],
        },
        {"model": [deep], "model__module": [CompactNet], "model__module__n_branches": [2]},
        {"model": [log_power], "model__ridge__alpha": [1.0]},
    ]
    search = GridSearchCV(
        pipe, grid, cv=GroupKFold(n_splits=2), scoring=mean_r_scorer, error_score="raise"
    )
    search.fit(data.X, data.y, groups=data.groups)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.predict(data.X).shape == data.y.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda(data):
    reg = EEG2BoldRegressor(
        EEG2BoldNet, max_epochs=1, random_state=0, device="cuda", **TINY_DEEP
    ).fit(data.X, data.y)
    assert next(reg.module_.parameters()).is_cuda
    assert reg.predict(data.X).shape == data.y.shape


_INIT_CALLS = []


class _DataInitialisedNet(CompactNet):
    """CompactNet that records what initialize_from_data receives."""

    def initialize_from_data(self, X, y):
        _INIT_CALLS.append((X, y))
        with torch.no_grad():
            self.readout.bias.fill_(0.25)


def test_module_is_initialised_from_the_training_data(data):
    _INIT_CALLS.clear()
    reg = EEG2BoldRegressor(_DataInitialisedNet, max_epochs=1, random_state=0, module__n_branches=4)
    reg.fit(data.X[:80], data.y[:80])
    ((X, y),) = _INIT_CALLS
    # What the network's batches carry: scaled float32 windows, standardised
    # targets; only the training rows, never those held out for validation.
    train, valid = reg.train_split.split_indices(data.X[:80])
    assert len(valid) > 0 and len(train) < 80
    assert X.dtype == torch.float32 and X.shape == (len(train), 8, 100)
    np.testing.assert_allclose(
        X.numpy(), np.asarray(data.X[:80])[train] / reg.input_scale_, rtol=1e-5
    )
    np.testing.assert_allclose(
        y.numpy(), (data.y[:80][train] - reg.y_mean_) / reg.y_std_, rtol=1e-5
    )
    # Before the first epoch, with an optimizer that sees the module's parameters.
    optimised = {id(p) for group in reg.optimizer_.param_groups for p in group["params"]}
    assert id(reg.module_.readout.bias) in optimised
    # Every fit that builds the network calls it again; a warm-start partial_fit does not.
    reg.partial_fit(data.X[:40], data.y[:40])
    assert len(_INIT_CALLS) == 1
    reg.fit(data.X[:80], data.y[:80])
    assert len(_INIT_CALLS) == 2
    reg.set_params(warm_start=True).fit(data.X[:80], data.y[:80])
    assert len(_INIT_CALLS) == 2


@pytest.mark.parametrize("split", ["skorch", "none"])
def test_data_initialisation_sees_no_validation_rows(data, split):
    from skorch.dataset import ValidSplit

    _INIT_CALLS.clear()
    train_split = ValidSplit(4) if split == "skorch" else None
    reg = EEG2BoldRegressor(
        _DataInitialisedNet,
        max_epochs=1,
        random_state=0,
        module__n_branches=4,
        train_split=train_split,
    )
    reg.fit(data.X[:80], data.y[:80])
    ((X, _),) = _INIT_CALLS
    if split == "none":
        assert X.shape[0] == 80
    else:
        # skorch's ValidSplit(4) holds out a quarter of the rows.
        held_out = reg.train_split(reg.get_dataset(data.X[:80], data.y[:80]), data.y[:80])[
            1
        ].indices
        assert X.shape[0] == 80 - len(held_out) == 60
        expected = np.delete(np.asarray(data.X[:80]), held_out, axis=0) / reg.input_scale_
        np.testing.assert_allclose(X.numpy(), expected, rtol=1e-5)


def test_each_public_call_checks_once_and_post_training_is_one_pass(data):
    from unittest import mock

    import skeeg2bold.nn._regressor as regressor_module

    reg = EEG2BoldRegressor(
        EEG2BoldNet,
        max_epochs=1,
        train_split=None,
        random_state=0,
        **TINY_DEEP,
        module__skip_lags=2,
    )
    n_batches = int(np.ceil(len(data.X) / reg.batch_size))
    fitted = mock.patch.object(
        regressor_module, "check_fitted_windows", wraps=regressor_module.check_fitted_windows
    )
    with (
        fitted as check,
        mock.patch.object(
            EEG2BoldNet, "forward", autospec=True, side_effect=EEG2BoldNet.forward
        ) as forward,
    ):
        reg.fit(data.X, data.y)
        # Training batches only: the readout and the calibration need no extra forward.
        assert check.call_count == 0 and forward.call_count == n_batches
        check.reset_mock(), forward.reset_mock()
        y_pred = reg.predict(data.X)
        assert check.call_count == 1 and forward.call_count == n_batches
    # The calibration computed from the readout features is that of the outputs.
    raw = reg.predict_proba(data.X)
    np.testing.assert_allclose(y_pred, raw * reg.output_coef_ + reg.output_intercept_)
    slope = [np.polyfit(raw[:, k], data.y[:, k], 1)[0] for k in range(2)]
    np.testing.assert_allclose(reg.output_coef_, slope, rtol=1e-4)
