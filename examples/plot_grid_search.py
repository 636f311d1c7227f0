"""
Grid search over architectures and baselines at once
====================================================

Which model, and which settings? Every model of the package is a
scikit-learn estimator taking the same windows, so one
:class:`~sklearn.model_selection.GridSearchCV` can compare the paper's
network, the compact network and the classical baselines' pipelines, each
with its own grid, under the paper's protocol and the same score (the mean
Pearson r over the targets).

The trick is a one-step :class:`~sklearn.pipeline.Pipeline` whose step is
itself a parameter: ``param_grid`` is a list of grids, one per kind of model,
each setting ``model`` to an estimator and its own ``model__*`` parameters.

A search over networks is affordable because, at their defaults, both
networks start from fixed band-pass filters of every channel: each
recording is filtered once per band and the result is cached, so every
epoch, every candidate and every fold reuses it and only the spatial
filters and what follows them train.
"""

# %%
# Settings
# --------
# ``SKEEG2BOLD_QUICK=1`` (set by the documentation build) shrinks the data and
# the training so that the search runs in about a minute on two CPU cores; the
# scores on this page are then those of three short simulated subjects and
# networks trained for a few epochs (and shorter protocol parts), not a benchmark
# (``benchmarks/bench_grid_search.py`` runs the full search).
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skeeg2bold import make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.metrics import mean_r_scorer
from skeeg2bold.model_selection import PaperProtocolSplit
from skeeg2bold.nn import CompactNet, EEG2BoldNet, EEG2BoldRegressor
from skeeg2bold.targets import CommonModeSplitter

QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
N_SUBJECTS = 3 if QUICK else 8
DURATION = 150.0 if QUICK else 285.0
MAX_EPOCHS = 3 if QUICK else 40
# The paper's parts of the target recording (s): training, validation, test.
PARTS = dict(train=40.0, valid=20.0, test=80.0) if QUICK else {}

# %%
# Data
# ----
# Simulated CWL-like subjects, one 10 s window at 100 Hz per volume, and the
# paper's 15 targets (14 differential ROIs and the common mode).
sim = simulate_eeg_fmri(n_subjects=N_SUBJECTS, duration=DURATION, sfreq=250.0, random_state=0)
data = make_windows(sim.recordings, window=10.0, sfreq=100.0, dtype="float32")
y = CommonModeSplitter().fit_transform(data.y)
target = np.unique(data.groups)[-1]  # the paper's target: the last subject
print(data.X, y.shape, "target:", target)

# %%
# One search, three families of models
# ------------------------------------
# The network is passed as a *class* (``module``) and its arguments as
# ``module__*``, so the architecture itself is a searchable parameter; the
# network's input shapes are inferred from the data in ``fit``. The
# baselines are plain pipelines whose steps are searched by their names.
deep = EEG2BoldRegressor(max_epochs=MAX_EPOCHS, random_state=0)
param_grid = [
    # The compact network: how many lag bins, how much smoothing (4 candidates).
    {
        "model": [deep],
        "model__module": [CompactNet],
        "model__module__n_lags": [5, 10],
        "model__module__smoothing": [0.5, 1.0],
    },
    # The paper's network: embedding size and token length (4 candidates).
    {
        "model": [deep],
        "model__module": [EEG2BoldNet],
        "model__module__embed_dim": [8, 16],
        "model__module__token_period": [0.5, 1.0],
    },
    {"model": [make_ridge_baseline()], "model__envelopefeatureextractor__log": [False, True]},
    {"model": [make_hrf_baseline()], "model__envelopefeatureextractor__log": [False, True]},
]


def describe(params):
    """A short label for one candidate."""
    model = params["model"]
    if isinstance(model, EEG2BoldRegressor):
        module = params["model__module"]
        if module is CompactNet:
            return (
                f"CompactNet, {params['model__module__n_lags']} lags, "
                f"{params['model__module__smoothing']:g} s smoothing"
            )
        return (
            f"EEG2BoldNet, embed {params['model__module__embed_dim']}, "
            f"{params['model__module__token_period']:g} s tokens"
        )
    family = "HRF ridge" if "hrfconvolution" in model.named_steps else "lagged ridge"
    log = params["model__envelopefeatureextractor__log"]
    return f"{family}, {'log-' if log else ''}envelopes"


# The paper's protocol for one target subject: train on the other subjects and
# the target's first 68.7 s, test on its final 150 s. ``refit=False``: the
# table is what we want here, not a model refitted on every window.
search = GridSearchCV(
    Pipeline([("model", deep)]),
    param_grid,
    cv=PaperProtocolSplit(subjects=[target], **PARTS),
    scoring=mean_r_scorer,
    refit=False,
    n_jobs=1,
)
start = time.perf_counter()
search.fit(data.X, y)
wall = time.perf_counter() - start
n_candidates = len(search.cv_results_["params"])
print(f"{n_candidates} candidates in {wall:.0f} s")

# %%
# The candidates side by side
# ---------------------------
# ``cv_results_`` holds every candidate's score on the target's test part and
# its fit time.
results = pd.DataFrame(
    {
        "candidate": [describe(p) for p in search.cv_results_["params"]],
        "mean r": search.cv_results_["mean_test_score"],
        "fit time (s)": search.cv_results_["mean_fit_time"],
    }
).sort_values("mean r", ascending=False)
print(results.round(3).to_string(index=False))

fig, ax = plt.subplots(figsize=(7, 0.4 * len(results) + 1.2), layout="constrained")
family_colors = {"lagged": "tab:blue", "HRF": "tab:orange", "CompactNet,": "tab:green"}
colors = [family_colors.get(c.split()[0], "tab:purple") for c in results["candidate"]]
ax.barh(results["candidate"], results["mean r"], color=colors)
ax.invert_yaxis()
ax.axvline(0, color="k", lw=0.6)
ax.set_xlabel(f"mean r over targets, test part of {target}")
ax.set_title(f"GridSearchCV, paper protocol: {n_candidates} candidates in {wall:.0f} s")
plt.show()

# %%
# With ``refit=True`` (the default) the search would refit the winner on all
# windows, and ``search.predict(X)`` would give BOLD for new EEG windows. The
# same search runs on a cluster unchanged: put ``search.fit`` under
# ``joblib.parallel_config(backend="dask")`` with a ``dask.distributed``
# client and set ``n_jobs=-1``, and every fit becomes a task on a worker.
