"""save_model / load_model: whole fitted models in one file, without pickle."""

import json
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline

pytest.importorskip("skops")
pytest.importorskip("safetensors")

from skeeg2bold import DroppedWindowsWarning, make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.ensemble import SeedEnsembleRegressor
from skeeg2bold.features import EnvelopeFeatureExtractor
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor
from skeeg2bold.persistence import (
    ModelVersionWarning,
    UntrustedTypesError,
    load_model,
    save_model,
)
from skeeg2bold.targets import CommonModeSplitter

BANDS = {"alpha": (8.0, 13.0), "beta": (13.0, 24.0)}


@pytest.fixture(scope="module")
def data():
    sim = simulate_eeg_fmri(n_subjects=2, duration=40.0, sfreq=100.0, random_state=0)
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows(sim.recordings, window=2.0, step=1.0, sfreq=50.0)
    return data.X, data.y[:, :4]


def _compact(seed=0):
    return EEG2BoldRegressor(
        CompactNet,
        module__n_branches=3,
        module__n_lags=2,
        batch_size=16,
        max_epochs=2,
        random_state=seed,
    )


MODELS = {
    "ridge baseline": lambda: make_ridge_baseline(bands=BANDS),
    "hrf baseline": lambda: make_hrf_baseline(bands=BANDS),
    "common-mode target": lambda: TransformedTargetRegressor(
        make_ridge_baseline(bands=BANDS), transformer=CommonModeSplitter(), check_inverse=False
    ),
    "network": _compact,
    "ensemble": lambda: SeedEnsembleRegressor(_compact(), n_members=2, random_state=0),
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_round_trip_gives_identical_predictions(data, kind, tmp_path):
    X, y = data
    model = MODELS[kind]().fit(X, y)
    before = model.predict(X)
    path = save_model(
        model, tmp_path / "model.skeeg2bold", metadata={"target_names": list("abcd"), "tr": 1.95}
    )
    with zipfile.ZipFile(path) as archive:  # nothing pickled in the file
        assert not any(name.endswith((".pkl", ".pt", ".joblib")) for name in archive.namelist())
    loaded, metadata = load_model(path, return_metadata=True)
    assert type(loaded) is type(model)
    assert metadata == {"target_names": list("abcd"), "tr": 1.95}
    np.testing.assert_array_equal(loaded.predict(X), before)
    # The saved model itself is untouched.
    np.testing.assert_array_equal(model.predict(X), before)


def test_network_keeps_parameters_history_and_torch_random_state(data, tmp_path):
    X, y = data
    net = _compact(seed=3).set_params(lr=0.005).fit(X, y)
    save_model(net, tmp_path / "net.zip")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    loaded = load_model(tmp_path / "net.zip")
    # Loading (which builds the network with its random_state) leaves torch's
    # global generator where it was.
    torch.testing.assert_close(torch.rand(3), expected)
    assert loaded.module is CompactNet and loaded.lr == 0.005 and loaded.random_state == 3
    assert loaded.get_params()["module__n_branches"] == 3
    assert len(loaded.history_) == len(net.history_)
    assert loaded.ch_names_ == net.ch_names_ and loaded.sfreq_ == net.sfreq_


def test_ensemble_template_and_members_are_networks(data, tmp_path):
    X, y = data
    ensemble = MODELS["ensemble"]().fit(X, y)
    loaded = load_model(save_model(ensemble, tmp_path / "ens.zip"))
    assert isinstance(loaded.estimator, EEG2BoldRegressor)
    assert not loaded.estimator.initialized_  # the unfitted template stays unfitted
    assert [type(m) for m in loaded.estimators_] == [EEG2BoldRegressor] * 2
    np.testing.assert_array_equal(loaded.seeds_, ensemble.seeds_)


class LogShift(TransformerMixin, BaseEstimator):
    """A user-defined step: its type is not trusted by default."""

    def fit(self, X, y=None):
        self.shift_ = 1.0
        return self

    def transform(self, X):
        return np.log(np.abs(X) + self.shift_)


def test_untrusted_type_is_refused(data, tmp_path):
    X, y = data
    model = make_pipeline(
        EnvelopeFeatureExtractor(bands=BANDS),
        LogShift(),
        make_ridge_baseline(bands=BANDS).steps[-1][1],
    ).fit(X, y)
    path = save_model(model, tmp_path / "custom.zip")
    name = f"{LogShift.__module__}.LogShift"
    with pytest.raises(UntrustedTypesError, match=rf"not trusted: \['{name}'\]"):
        load_model(path)
    loaded = load_model(path, trusted=[name])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def _rewrite_manifest(path, change):
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    change(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


def test_versions_are_checked(data, tmp_path):
    X, y = data
    path = save_model(MODELS["ridge baseline"]().fit(X, y), tmp_path / "m.zip")
    _rewrite_manifest(path, lambda m: m["versions"].update({"scikit-learn": "0.1"}))
    with pytest.warns(ModelVersionWarning, match=r"scikit-learn 0\.1 \(installed: "):
        load_model(path)
    _rewrite_manifest(path, lambda m: m.update({"format_version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        load_model(path)


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a skeeg2bold model file"):
        load_model(tmp_path / "x.txt")
    with zipfile.ZipFile(tmp_path / "y.zip", "w") as archive:
        archive.writestr("other.json", "{}")
    with pytest.raises(ValueError, match="no manifest.json"):
        load_model(tmp_path / "y.zip")


def test_metadata_must_be_json(data, tmp_path):
    X, y = data
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        save_model(
            MODELS["ridge baseline"]().fit(X, y), tmp_path / "m.zip", metadata={"when": object()}
        )
