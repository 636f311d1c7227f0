"""Fitted models survive saving and loading; training resumes after an interruption."""

import io
import json
import pickle

import joblib
import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Checkpoint, LoadInitState

from skeeg2bold import DroppedWindowsWarning, Recording, make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.metrics import mean_r_scorer
from skeeg2bold.model_selection import TimeBlockedSplit
from skeeg2bold.nn import CompactNet, EEG2BoldNet, EEG2BoldRegressor
from skeeg2bold.targets import CommonModeSplitter

from _helpers import SMALL_SIM_WINDOW as WINDOW

TINY_NET = dict(
    module__n_branches=3,
    module__embed_dim=8,
    module__n_heads=2,
    module__n_blocks=1,
    module__kernel_size=3,
    module__post_hidden=8,
)


@pytest.fixture(scope="module")
def windows(small_sim):
    # Eight channels keep the fits quick.
    recordings = [
        Recording(
            r.eeg[:8],
            r.bold[:, :4],
            r.volume_times,
            sfreq=r.sfreq,
            ch_names=r.ch_names[:8],
            subject=r.subject,
        )
        for r in small_sim.recordings
    ]
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows(recordings, window=WINDOW, step=1.0, sfreq=50.0)
    return data.X, data.y


def compact(**params):
    return EEG2BoldRegressor(
        CompactNet,
        module__n_branches=3,
        module__n_lags=2,
        batch_size=16,
        train_split=None,
        random_state=0,
        **{"max_epochs": 2, **params},
    )


def _fitted_models(X, y):
    bands = {"alpha": (8.0, 13.0), "beta": (13.0, 24.0)}
    return {
        "ridge baseline": make_ridge_baseline(bands=bands).fit(X, y),
        "hrf baseline": make_hrf_baseline(bands=bands).fit(X, y),
        "common-mode target": TransformedTargetRegressor(
            make_ridge_baseline(bands=bands), transformer=CommonModeSplitter(), check_inverse=False
        ).fit(X, y),
        "compact network": compact().fit(X, y),
        "paper network": EEG2BoldRegressor(
            EEG2BoldNet, max_epochs=1, batch_size=16, train_split=None, random_state=0, **TINY_NET
        ).fit(X, y),
        "grid search": GridSearchCV(
            make_ridge_baseline(bands=bands),
            {"ridgecv__alphas": [(1.0, 10.0), (100.0, 1000.0)]},
            cv=TimeBlockedSplit(2, window=WINDOW),
            scoring=mean_r_scorer,
        ).fit(X, y),
    }


@pytest.fixture(scope="module")
def fitted(windows):
    return _fitted_models(*windows)


def _pickle_round_trip(model):
    return pickle.loads(pickle.dumps(model))


def _joblib_round_trip(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.mark.parametrize(
    "round_trip", [_pickle_round_trip, _joblib_round_trip], ids=["pickle", "joblib"]
)
def test_fitted_models_predict_identically_after_a_round_trip(windows, fitted, round_trip):
    X, y = windows
    for name, model in fitted.items():
        restored = round_trip(model)
        np.testing.assert_array_equal(restored.predict(X), model.predict(X), err_msg=name)
        # Restored models still check their input: windows from another montage fail.
        if hasattr(restored, "predict") and name != "grid search":
            with pytest.raises(ValueError):
                restored.predict(np.asarray(X)[:, :-1])


def test_restored_network_keeps_its_channel_check(windows, fitted):
    X, _ = windows
    restored = _pickle_round_trip(fitted["compact network"])
    assert restored.ch_names_ == list(X.ch_names)
    other = X[:5]
    other.ch_names = ["renamed"] + list(X.ch_names[1:])
    with pytest.raises(ValueError, match="channels"):
        restored.predict(other)


# -- without pickle ---------------------------------------------------------
# A pickle runs code of the sender's choosing when it is loaded: never load a
# pickled model from an untrusted source. Weights in safetensors and the
# fitted attributes in JSON hold only numbers and text.
def test_network_round_trips_through_safetensors_and_json(windows, fitted, tmp_path):
    X, _ = windows
    model = fitted["compact network"]
    weights, attributes = tmp_path / "weights.safetensors", tmp_path / "fitted.json"
    model.save_params(f_params=weights, f_fitted=attributes, use_safetensors=True)

    from safetensors.torch import load_file

    assert set(load_file(weights)) == set(model.module_.state_dict())
    json.loads(attributes.read_text())  # plain JSON, no code
    restored = compact()
    restored.load_params(f_params=weights, f_fitted=attributes, use_safetensors=True)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.update(max_epochs=1000), r"not fitted attributes: \['max_epochs'\]"),
        (lambda s: s.update(module_="CompactNet"), r"not fitted attributes: \['module_'\]"),
        (lambda s: s.update(n_chans_="8"), "invalid n_chans_"),
        (lambda s: s.update(ch_names_=[1, 2]), "invalid ch_names_"),
        (lambda s: s.update(y_mean_=["a"]), "invalid y_mean_"),
        (lambda s: s.pop("torch_rng_state"), "no valid torch_rng_state"),
    ],
)
def test_fitted_file_sets_only_fitted_attributes(windows, fitted, tmp_path, change, message):
    # A JSON file must not set parameters or other attributes of the model.
    model = fitted["compact network"]
    weights, attributes = tmp_path / "weights.safetensors", tmp_path / "fitted.json"
    model.save_params(f_params=weights, f_fitted=attributes, use_safetensors=True)
    state = json.loads(attributes.read_text())
    change(state)
    attributes.write_text(json.dumps(state))
    restored = compact()
    with pytest.raises(ValueError, match=message):
        restored.load_params(f_params=weights, f_fitted=attributes, use_safetensors=True)
    assert restored.max_epochs == 2 and not hasattr(restored, "n_chans_")


# -- resuming an interrupted training ---------------------------------------
def _resume(X, y, tmp_path, files, **params):
    """Train 4 epochs in one go, and 2 + 2 with a checkpoint in between."""
    uninterrupted = compact(max_epochs=4, **params).fit(X, y)
    checkpoint = Checkpoint(
        dirname=tmp_path, monitor=None, f_pickle=None, f_criterion=None, **files
    )
    compact(max_epochs=2, callbacks=[checkpoint], **params).fit(X, y)
    # A new process would start here: build the same estimator, load, continue.
    resumed = compact(max_epochs=2, callbacks=[LoadInitState(checkpoint)], **params)
    resumed.fit(X, y)
    return uninterrupted, resumed


def test_resumed_training_equals_uninterrupted_when_nothing_is_random(windows, tmp_path):
    # Weights, optimizer state and history come back from the checkpoint.
    X, y = windows
    full, resumed = _resume(X, y, tmp_path, {}, iterator_train__shuffle=False, module__dropout=0.0)
    assert len(resumed.history) == 4
    np.testing.assert_allclose(
        resumed.history[:, "train_loss"], full.history[:, "train_loss"], rtol=1e-6
    )
    np.testing.assert_array_equal(resumed.predict(X), full.predict(X))


def test_resumed_training_equals_uninterrupted_with_shuffling_and_dropout(windows, tmp_path):
    # Batch order and dropout draw from torch's generator: its state at the
    # checkpoint must come back too.
    X, y = windows
    full, resumed = _resume(X, y, tmp_path, {"f_fitted": "fitted.json"})
    np.testing.assert_array_equal(resumed.predict(X), full.predict(X))
