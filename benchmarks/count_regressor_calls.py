"""Checks and forward passes in one EEG2BoldRegressor fit and one predict.

Counts the calls of the input checks (``skeeg2bold._validation``), of the
regressor's own X and y checks, of ``get_dataset`` and of the module's
``forward``, ``readout_features`` and ``readout_offset`` (one call per
batch) on a small fixed problem (the toy recordings of
``tests/test_regressor.py``), for CompactNet and EEG2BoldNet on windows and
on a plain array. ``--save FILE`` writes the predictions, ``--compare FILE``
compares them with a file saved by another checkout (run it with
``PYTHONPATH`` pointing at each): the same ``random_state`` must give the
same predictions.

Run: ``python benchmarks/count_regressor_calls.py [--save before.npz] [--compare before.npz]``
"""

import argparse
import collections
import functools
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import skeeg2bold._validation as validation
from skeeg2bold import DroppedWindowsWarning, make_windows
from skeeg2bold.nn import CompactNet, EEG2BoldNet, EEG2BoldRegressor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_regressor import toy_recordings

counts = collections.Counter()


def _counting(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        counts[name] += 1
        return fn(*args, **kwargs)

    return wrapper


def _instrument():
    for name in (
        "check_eeg_windows_array",
        "check_real_array",
        "check_finite",
        "check_fitted_windows",
    ):
        original = getattr(validation, name)
        wrapped = _counting(name, original)
        for module in list(sys.modules.values()):
            if (
                getattr(module, "__name__", "").startswith("skeeg2bold")
                and getattr(module, name, None) is original
            ):
                setattr(module, name, wrapped)
    for name in ("_check_X", "_check_y", "get_dataset"):
        if hasattr(EEG2BoldRegressor, name):
            setattr(EEG2BoldRegressor, name, _counting(name, getattr(EEG2BoldRegressor, name)))
    for cls in (CompactNet, EEG2BoldNet):
        for name in ("forward", "readout_features", "readout_offset"):
            if hasattr(cls, name):
                setattr(cls, name, _counting(f"module.{name}", getattr(cls, name)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", default=None)
    parser.add_argument("--compare", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    _instrument()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        data = make_windows(toy_recordings(), window=2.0)
    cases = {
        "CompactNet, EEGWindows": (dict(module=CompactNet), data.X, {}),
        "EEG2BoldNet, EEGWindows": (
            dict(module=EEG2BoldNet, module__n_heads=2, module__embed_dim=8),
            data.X,
            {},
        ),
        "CompactNet, ndarray": (
            dict(module=CompactNet, module__n_branches=4, sfreq=50.0),
            np.asarray(data.X),
            {"groups": data.groups},
        ),
    }
    table, predictions = {}, {}
    for name, (kwargs, X, fit_params) in cases.items():
        reg = EEG2BoldRegressor(max_epochs=3, random_state=0, **kwargs)
        counts.clear()
        reg.fit(X, data.y, **fit_params)
        fit_counts = dict(counts)
        counts.clear()
        predictions[name] = reg.predict(X)
        table[name] = {
            "fit": fit_counts,
            "predict": dict(counts),
            "batches per pass": int(np.ceil(len(X) / reg.batch_size)),
            "epochs": len(reg.history),
        }
    print(json.dumps(table, indent=1))
    keys = {name: name.replace(", ", "_").replace(" ", "_") for name in predictions}
    if args.save:
        np.savez(args.save, **{keys[k]: v for k, v in predictions.items()})
    if args.compare:
        reference = np.load(args.compare)
        for name, y_pred in predictions.items():
            ref = reference[keys[name]]
            print(
                f"{name}: max |difference| {np.abs(y_pred - ref).max():.2e} "
                f"(predictions up to {np.abs(ref).max():.2f})"
            )


if __name__ == "__main__":
    main()
