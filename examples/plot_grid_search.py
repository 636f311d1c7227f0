"""
Grid search over architectures and baselines at once
====================================================

Which model, and which settings? Every model of the package is a
scikit-learn estimator taking the same windows, so one
:class:`~sklearn.model_selection.GridSearchCV` can compare the paper's
network, the compact network and the classical baselines' pipelines, each
with its own grid, under the same subject-wise cross-validation and the same
score (the mean Pearson r over the targets).

The trick is a one-step :class:`~sklearn.pipeline.Pipeline` whose step is
itself a parameter: ``param_grid`` is a list of grids, one per kind of model,
each setting ``model`` to an estimator and its own ``model__*`` parameters.
"""

# %%
# Settings
# --------
# ``SKEEG2BOLD_QUICK=1`` (set by the documentation build) shrinks the data and
# the training so that the search runs in about a minute on two CPU cores; the
# scores on this page are those of three short simulated subjects and a
# network trained for a few epochs, not a benchmark.
import os

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline

from skeeg2bold import make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.metrics import mean_r_scorer
from skeeg2bold.nn import CompactNet, EEG2BoldNet, EEG2BoldRegressor
from skeeg2bold.targets import CommonModeSplitter

QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
N_SUBJECTS = 3 if QUICK else 8
DURATION = 150.0 if QUICK else 285.0
MAX_EPOCHS = 3 if QUICK else 40

# %%
# Data
# ----
# Simulated CWL-like subjects, one 10 s window at 100 Hz per volume, and the
# paper's 15 targets (14 differential ROIs and the common mode).
sim = simulate_eeg_fmri(n_subjects=N_SUBJECTS, duration=DURATION, sfreq=250.0,
                        random_state=0)
data = make_windows(sim.recordings, window=10.0, sfreq=100.0)
y = CommonModeSplitter().fit_transform(data.y)
print(data.X, y.shape)

# %%
# One search, three families of models
# ------------------------------------
# The network is passed as a *class* (``module``) and its arguments as
# ``module__*``, so the architecture itself is a searchable parameter; the
# network's input shapes are inferred from the data in ``fit``. The
# baselines are plain pipelines whose steps are searched by their names.
deep = EEG2BoldRegressor(max_epochs=MAX_EPOCHS, random_state=0)


def describe(params):
    """A short label for one candidate."""
    model = params["model"]
    if isinstance(model, EEG2BoldRegressor):
        if params["model__module"] is CompactNet:
            start = params.get("model__module__init_spatial", "channels")
            return ("CompactNet, random 30-branch start" if start == "random"
                    else "CompactNet, channel-band start")
        return f"EEG2BoldNet, {params['model__module__n_branches']} branches"
    if "model__hrfconvolution__hrf_model" in params:
        return f"HRF ridge, {params['model__hrfconvolution__hrf_model']}"
    log = params["model__envelopefeatureextractor__log"]
    return f"lagged ridge, {'log-' if log else ''}envelopes"


param_grid = [
    {
        "model": [deep],
        "model__module": [EEG2BoldNet],
        "model__module__n_branches": [8, 15],
    },
    # CompactNet's default front end (one branch per channel and band) against
    # randomly initialised spatial filters over a log-spaced filter bank.
    {"model": [deep], "model__module": [CompactNet]},
    {
        "model": [deep],
        "model__module": [CompactNet],
        "model__module__n_branches": [30],
        "model__module__init_spatial": ["random"],
        "model__module__init_bands": [True],
    },
    {
        "model": [make_ridge_baseline()],
        "model__envelopefeatureextractor__log": [False, True],
    },
    {
        "model": [make_hrf_baseline()],
        "model__hrfconvolution__hrf_model": ["glover", "spm + derivative"],
    },
]
search = GridSearchCV(
    Pipeline([("model", deep)]),
    param_grid,
    cv=GroupKFold(n_splits=N_SUBJECTS),  # train on some subjects, test on another
    scoring=mean_r_scorer,
    n_jobs=1,
)
search.fit(data.X, y, groups=data.groups)
print("best:", describe(search.best_params_))
print(f"best mean r: {search.best_score_:.3f}")

# %%
# The candidates side by side
# ---------------------------
# ``cv_results_`` holds every candidate's score on every held-out subject.
results = pd.DataFrame({
    "candidate": [describe(p) for p in search.cv_results_["params"]],
    "mean r": search.cv_results_["mean_test_score"],
    "sd": search.cv_results_["std_test_score"],
    "fit time (s)": search.cv_results_["mean_fit_time"],
}).sort_values("mean r")
print(results.round(3).to_string(index=False))

fig, ax = plt.subplots(figsize=(7, 0.45 * len(results) + 1.2), layout="constrained")
family_colors = {"lagged": "tab:blue", "HRF": "tab:orange"}
colors = [family_colors.get(c.split()[0], "tab:purple") for c in results["candidate"]]
ax.barh(results["candidate"], results["mean r"], xerr=results["sd"], color=colors,
        error_kw=dict(lw=0.8, capsize=2))
ax.axvline(0, color="k", lw=0.6)
ax.set_xlabel("mean r over targets, held-out subjects (± sd over folds)")
ax.set_title("GridSearchCV over architectures and baselines")
plt.show()

# %%
# The refitted winner, ``search.best_estimator_``, is an ordinary estimator:
# ``search.predict(X)`` gives BOLD for new EEG windows. The same search runs
# on a cluster unchanged: put ``search.fit`` under
# ``joblib.parallel_config(backend="dask")`` with a ``dask.distributed``
# client and set ``n_jobs=-1``, and every fit becomes a task on a worker.
