"""One file for a whole fitted model, loadable without unpickling code.

The file is a zip archive:

- ``manifest.json``: format version, the versions of the packages that
  wrote it, user metadata (target names, TR, ...) and an index of networks;
- ``estimator.skops``: the estimator, written with :mod:`skops.io`, with every
  network replaced by a reference holding its class and parameters;
- ``network-<i>.safetensors``, ``network-<i>.json``, ``network-<i>.history.json``:
  each fitted network's weights, fitted attributes
  (:meth:`EEG2BoldRegressor.save_params`) and training history.

The manifest holds the SHA-256 of every other file of the archive, checked
before anything is read from them.

skops rebuilds only types it trusts; the package trusts skops' defaults and,
beyond them, an explicit list of classes (and of its own functions that its
fitted objects hold), never a whole module. It refuses every other type or
function unless the caller names it, so a file cannot smuggle code in as
pickles can.
"""

import copy
import functools
import hashlib
import io
import json
import math
import numbers
import warnings
import zipfile
from importlib import metadata as _metadata
from pathlib import Path

from sklearn.base import BaseEstimator

__all__ = [
    "ModelVersionWarning",
    "UntrustedTypesError",
    "load_model",
    "save_model",
    "trusted_types",
]

FORMAT = "skeeg2bold-model"
#: Version 2 added the SHA-256 of every file (``"sha256"`` of the manifest).
FORMAT_VERSION = 2
_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.skops"
#: Packages whose versions are recorded and compared on loading.
_PACKAGES = ("skeeg2bold", "scikit-learn", "numpy", "scipy", "skops", "torch", "skorch")


class UntrustedTypesError(ValueError):
    """A model file holds types that are not trusted; nothing was loaded."""


class ModelVersionWarning(UserWarning):
    """A model file was written with other package versions than those installed."""


class _NetworkRef:
    """Stands for a network inside the skops part of a model file.

    Holds the network's class and parameters (through skops' trusted-type
    checks) and the index of its weight files, or ``None`` if unfitted.
    """

    def __init__(self, cls, params, index):
        self.cls = cls
        self.params = params
        self.index = index


def _type_name(obj):
    """``module.name`` of a class or function, as skops names it in a file."""
    return f"{obj.__module__}.{obj.__name__}"


@functools.cache
def _trusted_names():
    """Names of the classes and functions trusted beyond skops' defaults.

    Class by class: the public classes of the package's estimator modules
    (estimators, transformers, splitters, networks and their losses), the
    private classes and functions their fitted state holds, the scikit-learn
    scorers and splitters that go into a search, what a network's parameters
    hold by default, and torch's optimisers. skops' defaults already hold every
    scikit-learn estimator class, numpy's and scipy's ufuncs and dtypes.
    """
    import skorch.dataset
    import torch
    from sklearn import model_selection as skms
    from sklearn.linear_model import Ridge
    from sklearn.metrics import check_scoring

    from .. import ensemble, features, metrics, model_selection, nn, targets, uncertainty
    from ..features._covariance import _channel_scale, _riemann_means
    from ..features._envelope import _Plan
    from ..features._subject import SubjectReferences, _mean_covariance

    classes = [
        obj
        for module in (ensemble, features, model_selection, nn, targets, uncertainty)
        for obj in (getattr(module, name) for name in module.__all__)
        if isinstance(obj, type) and not issubclass(obj, (Warning, Exception))
    ]
    classes += [_NetworkRef, _Plan, SubjectReferences]
    # Functions the fitted objects hold: a scorer's metric, a mean of covariances,
    # a subject's channel scaling.
    functions = [metrics.mean_r, _mean_covariance, _riemann_means, _channel_scale]
    # Scorers (their classes are private to scikit-learn) and splitters of a search.
    classes += [type(metrics.mean_r_scorer), type(check_scoring(Ridge()))]
    classes += [
        skms.GroupKFold,
        skms.KFold,
        skms.LeaveOneGroupOut,
        skms.PredefinedSplit,
        skms.TimeSeriesSplit,
    ]
    # What metadata a step requests (plain data that older scikit-learn keeps
    # on some fitted estimators).
    from sklearn.utils import _metadata_requests

    classes += [
        getattr(_metadata_requests, name)
        for name in ("MetadataRequest", "MethodMetadataRequest")
        if hasattr(_metadata_requests, name)
    ]
    # A network's parameters: its dataset, data loader and validation split.
    classes += [skorch.dataset.Dataset, skorch.dataset.ValidSplit, torch.utils.data.DataLoader]
    classes += [
        obj
        for obj in vars(torch.optim).values()
        if isinstance(obj, type)
        and issubclass(obj, torch.optim.Optimizer)
        and obj is not torch.optim.Optimizer
    ]
    return frozenset(_type_name(obj) for obj in classes + functions) | {"numpy.dtype"}


def trusted_types(types):
    """Split type names into those this package trusts and the others.

    Trusted are the names of an explicit list of classes (the package's
    estimators, transformers, splitters, networks and losses, the
    scikit-learn scorers and splitters of a search, torch's optimisers) and of
    the few functions of the package that its fitted objects hold. A name is
    never trusted for its module alone: any other function or class, of
    scikit-learn or of this package, is untrusted.

    Parameters
    ----------
    types : list of str
        Fully qualified type names, as :func:`skops.io.get_untrusted_types`
        returns them.

    Returns
    -------
    trusted, untrusted : list of str
    """
    names = _trusted_names()
    return [t for t in types if t in names], [t for t in types if t not in names]


def save_model(estimator, path, *, metadata=None):
    """Save a fitted estimator of the package to one file, without pickle.

    Works for any estimator built from this package's and scikit-learn's
    parts: baseline pipelines, :class:`~skeeg2bold.nn.EEG2BoldRegressor`
    networks, :class:`~skeeg2bold.ensemble.SeedEnsembleRegressor`, and
    wrappers such as :class:`~sklearn.compose.TransformedTargetRegressor` or a
    fitted search. The scikit-learn parts are written with :mod:`skops.io`;
    network weights as safetensors and their other fitted attributes as JSON
    (:meth:`~skeeg2bold.nn.EEG2BoldRegressor.save_params`). Optimizer states
    are not kept: a loaded network predicts, and trains anew with ``fit``.

    Parameters
    ----------
    estimator : estimator
        Usually fitted; an unfitted one is saved with its parameters only.
    path : str or path-like
        The file to write (a zip archive; any extension).
    metadata : dict, default=None
        JSON-serialisable information stored beside the model, returned by
        :func:`load_model` with ``return_metadata=True``.
        :class:`~skeeg2bold.online.OnlineTwin` reads ``"target_names"``
        (output channel names), ``"tr"`` (its default step, s) and
        ``"input_amplitude"`` (the training EEG's amplitude, V, for models
        without a network's ``input_scale_``).

    Returns
    -------
    path : pathlib.Path

    See Also
    --------
    load_model

    Examples
    --------
    >>> save_model(model, "ridge.skeeg2bold",
    ...            metadata={"target_names": names, "tr": 1.95})  # doctest: +SKIP
    >>> model = load_model("ridge.skeeg2bold")  # doctest: +SKIP
    """
    import skops.io as sio

    from ..nn import EEG2BoldRegressor

    path = Path(path)
    metadata = {} if metadata is None else dict(metadata)
    try:
        metadata_json = json.dumps(metadata)
    except TypeError as err:
        raise TypeError(f"metadata must be JSON-serialisable: {err}") from None
    _check_metadata(json.loads(metadata_json), "metadata")
    networks = _find_networks(estimator)
    memo, files, index = {}, {}, []
    for i, net in enumerate(networks):
        if not isinstance(net, EEG2BoldRegressor):
            raise TypeError(
                f"{type(net).__name__} is a skorch network other than EEG2BoldRegressor; "
                "only EEG2BoldRegressor networks can be saved without pickle."
            )
        params = {k: v for k, v in net.get_params(deep=False).items() if not k.startswith("_")}
        fitted = bool(getattr(net, "initialized_", False)) and hasattr(net, "n_chans_")
        memo[id(net)] = _NetworkRef(type(net), params, i if fitted else None)
        entry = {"class": type(net).__name__, "fitted": fitted}
        if fitted:
            files.update(_network_files(net, i))
        index.append(entry)
    # A copy in which every network is its reference; the original is untouched.
    stripped = copy.deepcopy(estimator, memo)
    files = {_ESTIMATOR: sio.dumps(stripped), **files}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "metadata": json.loads(metadata_json),
        "networks": index,
        "sha256": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=2))
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def load_model(path, *, trusted=None, return_metadata=False):
    """Load a model written by :func:`save_model`.

    Nothing is unpickled and no code named by the file runs. The
    scikit-learn part is rebuilt by :func:`skops.io.loads` from skops'
    default types and an explicit list of classes: the package's estimators,
    transformers, splitters and networks, the scikit-learn scorers and
    splitters of a search, torch's optimisers (see :func:`trusted_types`).
    Any other class or function in the file (a custom transformer, a
    callback, a scikit-learn function, ...) is refused unless named in
    ``trusted``. Every file of the archive is checked against the SHA-256 in
    its manifest before it is read. Networks are rebuilt from their class and
    parameters, and their weights loaded from safetensors.

    Parameters
    ----------
    path : str or path-like
    trusted : list of str, default=None
        Further type names to trust (as listed in the error for an
        untrusted file). Only name types whose code you trust.
    return_metadata : bool, default=False
        Also return the ``metadata`` given to :func:`save_model`.

    Returns
    -------
    estimator : estimator
    metadata : dict
        Only with ``return_metadata=True``.

    Raises
    ------
    UntrustedTypesError
        The file holds types that are not trusted.
    ValueError
        The file is not a model file of this package, is of a newer format,
        has a malformed manifest, or a file of the archive does not match its
        SHA-256 (a file replaced or damaged after saving).

    Warns
    -----
    ModelVersionWarning
        The file was written with other versions of the packages involved
        (scikit-learn, torch, ...) than those installed; predictions may differ.
    """
    import skops.io as sio
    import torch

    path = Path(path)
    if trusted is not None and (
        isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted)
    ):
        raise TypeError(f"trusted must be a list of type names (str), got {trusted!r}.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, IsADirectoryError):
        raise ValueError(f"{path} is not a skeeg2bold model file (not a zip archive).") from None
    with archive:
        try:
            manifest = json.loads(archive.read(_MANIFEST))
        except KeyError:
            raise ValueError(f"{path} is not a skeeg2bold model file (no {_MANIFEST}).") from None
        except ValueError:
            raise ValueError(f"{path} has a malformed manifest: not JSON.") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"{path} is not a skeeg2bold model file.")
        _check_manifest(manifest, path)
        _check_versions(manifest["versions"], path)
        read = functools.partial(_read_checked, archive, manifest, path)
        blob = read(_ESTIMATOR)
        _, untrusted = trusted_types(sio.get_untrusted_types(data=blob))
        refused = sorted(set(untrusted) - set(trusted or ()))
        if refused:
            raise UntrustedTypesError(
                f"{path} holds types that are not trusted: {refused}. Loading them could "
                "run their code; if you trust the file's author and these types, pass "
                "load_model(..., trusted=[...]) with their names."
            )
        # skops checks the tree again against exactly these names.
        stripped = sio.loads(blob, trusted=sorted(_trusted_names() | set(trusted or ())))
        networks = {}
        rng_state = torch.get_rng_state()  # building a network seeds torch
        try:
            estimator = _swap_refs(
                stripped, lambda ref: _build(ref, read, manifest["networks"], networks, path)
            )
        finally:
            torch.set_rng_state(rng_state)
    if return_metadata:
        return estimator, manifest["metadata"]
    return estimator


def _read_checked(archive, manifest, path, name):
    """The bytes of ``name`` in the archive, refused unless they match the manifest."""
    try:
        content = archive.read(name)
    except KeyError:
        raise ValueError(f"{path} is damaged: it has no {name}.") from None
    if manifest["format_version"] >= 2:
        expected = manifest["sha256"].get(name)
        if expected is None:
            raise ValueError(f"{path} has a malformed manifest: no SHA-256 for {name}.")
        if hashlib.sha256(content).hexdigest() != expected:
            raise ValueError(
                f"{path}: {name} does not match the SHA-256 in the manifest; the file "
                "was changed after saving (another model's weights, a damaged copy). "
                "Nothing was loaded."
            )
    return content


def _check_manifest(manifest, path):
    """Refuse a manifest whose fields have the wrong types or values; fill defaults."""

    def bad(detail):
        return ValueError(f"{path} has a malformed manifest: {detail}.")

    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format version {version}; this "
            f"skeeg2bold reads up to {FORMAT_VERSION}. Upgrade skeeg2bold."
        )
    if version < 2:
        warnings.warn(
            f"{path} has model format version {version}, without SHA-256 checksums: "
            "its files cannot be checked. Save the model again to add them.",
            ModelVersionWarning,
            stacklevel=3,
        )
        manifest.setdefault("sha256", {})
    manifest.setdefault("versions", {})
    manifest.setdefault("metadata", {})
    manifest.setdefault("networks", [])
    versions = manifest["versions"]
    if not isinstance(versions, dict) or not all(
        isinstance(v, (str, type(None))) for v in versions.values()
    ):
        raise bad(f"versions must map package names to version strings, got {versions!r}")
    if not isinstance(manifest["metadata"], dict):
        raise bad(f"metadata must be a JSON object, got {manifest['metadata']!r}")
    try:
        _check_metadata(manifest["metadata"], "metadata")
    except (TypeError, ValueError) as err:
        raise bad(str(err)) from None
    networks = manifest["networks"]
    if not isinstance(networks, list) or not all(
        isinstance(n, dict) and isinstance(n.get("fitted"), bool) for n in networks
    ):
        raise bad(f"networks must be a list of {{'class', 'fitted'}} entries, got {networks!r}")
    checksums = manifest["sha256"]
    if not isinstance(checksums, dict) or not all(
        isinstance(v, str) and len(v) == 64 for v in checksums.values()
    ):
        raise bad("sha256 must map file names to SHA-256 hex digests")


def _check_metadata(metadata, name):
    """The keys that :class:`~skeeg2bold.online.OnlineTwin` reads must make sense."""
    for key, unit in (("tr", "seconds"), ("input_amplitude", "volts")):
        value = metadata.get(key)
        if value is not None and (
            not isinstance(value, numbers.Real)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ValueError(f'{name}["{key}"] must be a positive number of {unit}, got {value!r}')
    names = metadata.get("target_names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        raise ValueError(f'{name}["target_names"] must be a list of str, got {names!r}')


def _network_files(net, index):
    """The weight, fitted-attribute and history files of one fitted network."""
    import tempfile

    names = {
        "f_params": f"network-{index}.safetensors",
        "f_fitted": f"network-{index}.json",
        "f_history": f"network-{index}.history.json",
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = {arg: Path(tmp) / name for arg, name in names.items()}
        net.save_params(**paths, use_safetensors=True)
        return {names[arg]: path.read_bytes() for arg, path in paths.items()}


def _build(ref, read, entries, built, path):
    """The network a :class:`_NetworkRef` stands for, its files checked by ``read``."""
    from ..nn import EEG2BoldRegressor

    if not (isinstance(ref.cls, type) and issubclass(ref.cls, EEG2BoldRegressor)):
        raise ValueError(f"{path} is damaged: a network's class is {ref.cls!r}.")
    if not isinstance(ref.params, dict) or not all(isinstance(k, str) for k in ref.params):
        raise ValueError(f"{path} is damaged: a network's parameters are not a dict.")
    if ref.index is None:
        return ref.cls(**ref.params)
    index = ref.index
    if (
        not isinstance(index, int)
        or isinstance(index, bool)
        or not 0 <= index < len(entries)
        or not entries[index]["fitted"]
        or entries[index].get("class") != ref.cls.__name__
    ):
        raise ValueError(
            f"{path} is damaged: a network refers to entry {index!r} of the manifest's "
            f"{len(entries)} networks, which is not a fitted {ref.cls.__name__}."
        )
    if index in built:  # the same network reached twice
        return built[index]
    net = ref.cls(**ref.params)
    stem = f"network-{index}"
    net.load_params(
        f_params=io.BytesIO(read(f"{stem}.safetensors")),
        f_fitted=io.StringIO(read(f"{stem}.json").decode()),
        f_history=io.StringIO(read(f"{stem}.history.json").decode()),
        use_safetensors=True,
    )
    built[index] = net
    return net


def _children(obj):
    """Containers and estimators inside ``obj`` that may hold networks."""
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple)):
        return list(obj)
    if isinstance(obj, BaseEstimator):
        return list(vars(obj).values())
    return []


def _find_networks(obj):
    from skorch import NeuralNet

    found, seen, stack = [], set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, NeuralNet):
            found.append(item)
        else:
            stack.extend(reversed(_children(item)))
    return found


def _swap_refs(obj, build, seen=None):
    """``obj`` with every :class:`_NetworkRef` inside replaced by ``build(ref)``."""
    seen = set() if seen is None else seen
    if isinstance(obj, _NetworkRef):
        return build(obj)
    if id(obj) in seen:
        return obj
    seen.add(id(obj))
    if isinstance(obj, list):
        obj[:] = [_swap_refs(o, build, seen) for o in obj]
    elif isinstance(obj, tuple):
        swapped = [_swap_refs(o, build, seen) for o in obj]
        if any(a is not b for a, b in zip(swapped, obj)):
            obj = type(obj)(*swapped) if hasattr(obj, "_fields") else type(obj)(swapped)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _swap_refs(value, build, seen)
    elif isinstance(obj, BaseEstimator):
        for key, value in vars(obj).items():
            vars(obj)[key] = _swap_refs(value, build, seen)
    return obj


def _versions():
    from .. import __version__

    versions = {"skeeg2bold": __version__}
    for package in _PACKAGES[1:]:
        try:
            versions[package] = _metadata.version(package)
        except _metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _check_versions(saved, path):
    current = _versions()
    differ = {
        p: (v, current.get(p)) for p, v in saved.items() if v is not None and current.get(p) != v
    }
    if differ:
        detail = ", ".join(f"{p} {old} (installed: {new})" for p, (old, new) in differ.items())
        warnings.warn(
            f"{path} was written with {detail}; predictions may differ from the saved "
            "model's. Refit, or install those versions, for identical results.",
            ModelVersionWarning,
            stacklevel=3,
        )
