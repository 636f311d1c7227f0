"""save_model / load_model: whole fitted models in one file, without pickle."""

import hashlib
import importlib
import inspect
import io
import json
import re
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneGroupOut,
    ShuffleSplit,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

pytest.importorskip("skops")
pytest.importorskip("safetensors")

import skops.io as sio
from skorch.dataset import ValidSplit

from skeeg2bold import DroppedWindowsWarning, make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline, make_riemann_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.ensemble import SeedEnsembleRegressor
from skeeg2bold.features import EnvelopeFeatureExtractor, SubjectAlignment
from skeeg2bold.metrics import mean_r_scorer
from skeeg2bold.model_selection import LastBlockSplit, PaperProtocolSplit, TimeBlockedSplit
from skeeg2bold.nn import BandPowerNet, CompactNet, EEG2BoldNet, EEG2BoldRegressor
from skeeg2bold.persistence import (
    ModelVersionWarning,
    UntrustedTypesError,
    load_model,
    save_model,
    trusted_types,
)
from skeeg2bold.persistence._model_file import _NetworkRef, _trusted_names
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


def _rewrite(path, change=None, replace=None, rehash=False):
    """Tamper with a model file: replace some of its files, change its manifest.

    With ``rehash=True`` the manifest gets the SHA-256 of the replaced files,
    as an attacker who rewrites the manifest too would give it.
    """
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    for name, content in (replace or {}).items():
        files[name] = content
        if rehash and "sha256" in manifest:
            manifest["sha256"][name] = hashlib.sha256(content).hexdigest()
    if change is not None:
        change(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


def _rewrite_manifest(path, change):
    _rewrite(path, change)


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


# -- what the package trusts ----------------------------------------------------
def _aligned(model):
    return make_pipeline(SubjectAlignment(), model)


def _search(cv, **params):
    return GridSearchCV(
        make_ridge_baseline(bands=BANDS),
        {"ridgecv__alphas": [[1.0, 10.0], [100.0, 1000.0]]},
        cv=cv,
        **params,
    )


TINY_DEEP = dict(
    module__n_branches=3,
    module__embed_dim=8,
    module__n_heads=2,
    module__n_blocks=1,
    module__kernel_size=3,
    module__post_hidden=8,
)

#: Every kind of model the package builds (the CLI's models included).
EVERY_MODEL = {
    "logridge": lambda: make_ridge_baseline(bands=BANDS, log=True),
    "riemann": lambda: make_riemann_baseline(bands=BANDS),
    "deep network": lambda: EEG2BoldRegressor(
        EEG2BoldNet, max_epochs=1, batch_size=16, random_state=0, **TINY_DEEP
    ),
    "band-power network": lambda: EEG2BoldRegressor(
        BandPowerNet, max_epochs=1, batch_size=16, random_state=0
    ),
    "network, Adam, skorch split": lambda: _compact().set_params(
        optimizer=torch.optim.Adam, train_split=ValidSplit(4)
    ),
    "aligned network": lambda: _aligned(_compact()),
    "aligned logridge": lambda: _aligned(make_ridge_baseline(bands=BANDS, log=True)),
    "search, blocked split": lambda: _search(
        TimeBlockedSplit(2, window=2.0, gap=2.0), scoring=mean_r_scorer
    ),
    "search, group k-fold": lambda: _search(GroupKFold(2)),
}


@pytest.mark.parametrize("kind", list(EVERY_MODEL))
def test_every_model_kind_loads_without_trusted(data, kind, tmp_path):
    # Together with test_round_trip_gives_identical_predictions: the explicit
    # list of trusted types is complete for what the package builds.
    X, y = data
    model = EVERY_MODEL[kind]()
    groups = np.repeat([0, 1], [len(y) // 2, len(y) - len(y) // 2])
    model.fit(X, y, groups=groups) if "group" in kind else model.fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "model.zip"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_splitters_load_without_trusted(tmp_path):
    splitters = [
        TimeBlockedSplit(3, window=2.0),
        LastBlockSplit(0.2, window=2.0),
        PaperProtocolSplit(window=2.0),
        GroupKFold(2),
        LeaveOneGroupOut(),
        KFold(3),
    ]
    loaded = load_model(save_model(splitters, tmp_path / "splitters.zip"))
    assert [repr(s) for s in loaded] == [repr(s) for s in splitters]


def _resolve(name):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_trusted_list_is_explicit_classes_and_named_package_functions():
    names = _trusted_names()
    functions = sorted(n for n in names if not inspect.isclass(_resolve(n)))
    # The only functions: the package's own, held by its fitted objects.
    assert functions == [
        "skeeg2bold.features._covariance._channel_scale",
        "skeeg2bold.features._covariance._riemann_means",
        "skeeg2bold.features._subject._mean_covariance",
        "skeeg2bold.metrics._correlation.mean_r",
    ]
    assert "torch.optim.adamw.AdamW" in names and "torch.optim.sgd.SGD" in names


HOSTILE = [
    "sklearn.utils._testing.assert_run_python_script_without_output",
    "sklearn.datasets._svmlight_format_io.dump_svmlight_file",
    "sklearn.utils._testing.TempMemmap",
    "sklearn.model_selection._split.ShuffleSplit",
    "skeeg2bold.utils._parallel.limit_threads",
    "skeeg2bold.cli.main",
    "torch.optim.lr_scheduler.LambdaLR",
    "torch.load",
]


def test_functions_and_unlisted_classes_are_untrusted_whatever_their_module():
    trusted, untrusted = trusted_types(HOSTILE + ["skeeg2bold.nn._compact.CompactNet"])
    assert trusted == ["skeeg2bold.nn._compact.CompactNet"]
    assert untrusted == HOSTILE


@given(
    st.sampled_from(["sklearn.", "skeeg2bold.", "torch.optim.", "skorch."]),
    st.from_regex(r"[a-z_]{1,12}(\.[A-Za-z_]{1,12}){0,2}", fullmatch=True),
)
def test_no_name_is_trusted_for_its_module(prefix, rest):
    name = prefix + rest
    assert trusted_types([name]) == ([], [name]) or name in _trusted_names()


def _skops_calling(function, *args):
    """A skops file whose one node calls ``function(*args)`` when it is built."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps(tuple(args)))) as archive:
        schema = json.loads(archive.read("schema.json"))
    node = {
        "__class__": function.rpartition(".")[2],
        "__module__": function.rpartition(".")[0],
        "__loader__": "ConstructorFromReduceNode",
        "content": {k: v for k, v in schema.items() if k not in ("protocol", "_skops_version")},
        "protocol": schema["protocol"],
        "_skops_version": schema["_skops_version"],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(node))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def ridge_file(data, tmp_path_factory):
    X, y = data
    model = MODELS["ridge baseline"]().fit(X, y)
    return save_model(model, tmp_path_factory.mktemp("ridge") / "ridge.zip").read_bytes()


@pytest.mark.parametrize("rehash", [True, False], ids=["manifest rewritten", "manifest kept"])
def test_reduce_node_calling_a_sklearn_function_is_refused_and_nothing_runs(
    ridge_file, rehash, tmp_path
):
    from skops.io._general import NODE_TYPE_MAPPING

    if rehash and not any(key[0] == "ConstructorFromReduceNode" for key in NODE_TYPE_MAPPING):
        pytest.skip("this skops has no reduce node, so such a file cannot be built at all")
    marker = tmp_path / "ran"
    path = tmp_path / "hostile.zip"
    path.write_bytes(ridge_file)
    hostile = _skops_calling(
        "sklearn.utils._testing.assert_run_python_script_without_output",
        f"open({str(marker)!r}, 'w').close()",
    )
    _rewrite(path, replace={"estimator.skops": hostile}, rehash=rehash)
    expected = (
        r"not trusted: \['sklearn\.utils\._testing\.assert_run_python_script_without_output'\]"
        if rehash
        else "estimator.skops does not match the SHA-256"
    )
    with pytest.raises(ValueError, match=expected) as error:
        load_model(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


def test_sklearn_function_inside_a_trusted_class_is_refused(data, ridge_file, tmp_path):
    # FunctionTransformer is a trusted scikit-learn class; the function it
    # would call is not, though it is scikit-learn's.
    from sklearn.datasets import dump_svmlight_file

    X, y = data
    marker = tmp_path / "written.svmlight"
    model = make_pipeline(
        FunctionTransformer(dump_svmlight_file, kw_args={"y": np.zeros(len(y)), "f": str(marker)}),
    )
    path = tmp_path / "hostile.zip"
    path.write_bytes(ridge_file)
    _rewrite(path, replace={"estimator.skops": sio.dumps(model)}, rehash=True)
    with pytest.raises(UntrustedTypesError, match="dump_svmlight_file"):
        load_model(path)
    assert not marker.exists()


def test_unlisted_sklearn_class_is_refused_unless_trusted(data, tmp_path):
    X, y = data
    model = _search(ShuffleSplit(2, test_size=0.3, random_state=0)).fit(X, y)
    path = save_model(model, tmp_path / "search.zip")
    name = "sklearn.model_selection._split.ShuffleSplit"
    with pytest.raises(UntrustedTypesError, match=rf"not trusted: \['{re.escape(name)}'\]"):
        load_model(path)
    loaded = load_model(path, trusted=[name])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_network_reference_to_another_class_is_refused(ridge_file, tmp_path):
    # A trusted class is still not a network: it is not built from the reference.
    path = tmp_path / "hostile.zip"
    path.write_bytes(ridge_file)
    ref = sio.dumps(_NetworkRef(KFold, {"n_splits": 3}, None))
    _rewrite(path, replace={"estimator.skops": ref}, rehash=True)
    with pytest.raises(ValueError, match="a network's class is .*KFold"):
        load_model(path)


@pytest.fixture(scope="module")
def two_networks(data):
    X, y = data
    return _compact(seed=0).fit(X, y), _compact(seed=1).fit(X, y)


def test_weights_of_another_network_are_refused(data, two_networks, tmp_path):
    X, _ = data
    first, second = two_networks
    path = save_model(first, tmp_path / "first.zip")
    with zipfile.ZipFile(save_model(second, tmp_path / "second.zip")) as archive:
        weights = archive.read("network-0.safetensors")
    _rewrite(path, replace={"network-0.safetensors": weights})
    with pytest.raises(ValueError, match="network-0.safetensors does not match the SHA-256"):
        load_model(path)


def test_fitted_attributes_cannot_set_other_attributes(two_networks, tmp_path):
    path = save_model(two_networks[0], tmp_path / "net.zip")
    with zipfile.ZipFile(path) as archive:
        fitted = json.loads(archive.read("network-0.json"))
    fitted["max_epochs"] = 1000
    _rewrite(path, replace={"network-0.json": json.dumps(fitted).encode()}, rehash=True)
    with pytest.raises(ValueError, match=r"not fitted attributes: \['max_epochs'\]"):
        load_model(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version="2"), "format_version must be a positive integer"),
        (lambda m: m.update(format_version=True), "format_version must be a positive integer"),
        (lambda m: m["metadata"].update(tr=-1), r'metadata\["tr"\] must be a positive'),
        (lambda m: m["metadata"].update(tr="1.95"), r'metadata\["tr"\] must be a positive'),
        (lambda m: m["metadata"].update(target_names="abcd"), "target_names.* list of str"),
        (lambda m: m.update(metadata=[]), "metadata must be a JSON object"),
        (lambda m: m.update(versions={"torch": 2}), "versions must map"),
        (lambda m: m.update(networks={}), "networks must be a list"),
        (lambda m: m.update(sha256="x"), "sha256 must map"),
        (lambda m: m["sha256"].pop("estimator.skops"), "no SHA-256 for estimator.skops"),
    ],
)
def test_malformed_manifest_names_the_file(ridge_file, change, message, tmp_path):
    path = tmp_path / "malformed.zip"
    path.write_bytes(ridge_file)
    _rewrite(path, change)
    with pytest.raises(ValueError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value)


def test_saving_refuses_metadata_the_twin_cannot_use(data, tmp_path):
    model = MODELS["ridge baseline"]()
    with pytest.raises(ValueError, match=r'metadata\["tr"\] must be a positive number'):
        save_model(model, tmp_path / "m.zip", metadata={"tr": -1})
    with pytest.raises(ValueError, match=r'metadata\["target_names"\] must be a list'):
        save_model(model, tmp_path / "m.zip", metadata={"target_names": [1, 2]})


def test_format_1_file_without_checksums_loads_with_a_warning(data, ridge_file, tmp_path):
    X, y = data
    path = tmp_path / "old.zip"
    path.write_bytes(ridge_file)
    _rewrite(path, lambda m: (m.pop("sha256"), m.update(format_version=1)))
    with pytest.warns(ModelVersionWarning, match="without SHA-256 checksums"):
        loaded = load_model(path)
    expected = MODELS["ridge baseline"]().fit(X, y).predict(X)
    np.testing.assert_array_equal(loaded.predict(X), expected)
