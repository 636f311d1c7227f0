"""
Reproduce the paper's protocol
==============================

The experiment of Dagaev, Semenkova & Ossadtchi, step by step, on the
embedded simulated data:

1. eight subjects of simultaneous EEG-fMRI (here: the simulator, shaped like
   the CWL data set);
2. one 10 s EEG window per BOLD volume (:func:`~skeeg2bold.make_windows`);
3. targets: the 14 subcortical ROIs relative to their mean, plus that mean,
   the common mode (:class:`~skeeg2bold.targets.CommonModeSplitter`);
4. the paper's split (:class:`~skeeg2bold.model_selection.PaperProtocolSplit`):
   train on seven subjects and the first 68.7 s of the eighth, validate on its
   next 60 s, test on its final 150 s;
5. the network (:class:`~skeeg2bold.nn.EEG2BoldRegressor`), the classical
   baselines and the chance level (the same network trained on temporally
   unrelated EEG and BOLD);
6. Pearson r per target, the paper's Fig. 3.

``skeeg2bold run`` on the command line performs the same experiment with
more repeats and writes a report.
"""

# %%
# Settings
# --------
# ``SKEEG2BOLD_QUICK=1`` (set by the documentation build) uses three subjects
# and a short training so that the example runs in about a minute on two
# CPU cores: the numbers on this page are those of that small run, not the
# paper's setting. Run the script without it for eight subjects, full
# training and three seeds per model.
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skeeg2bold import make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.metrics import correlation_table
from skeeg2bold.model_selection import PaperProtocolSplit, chance_level
from skeeg2bold.nn import CompactNet, EEG2BoldNet, EEG2BoldRegressor, PredefinedValidSplit
from skeeg2bold.targets import CommonModeSplitter

QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
N_SUBJECTS = 3 if QUICK else 8
MAX_EPOCHS = 10 if QUICK else 40
SEEDS = [0] if QUICK else [0, 1, 2]
CHANCE_REPEATS = 2 if QUICK else 5

# %%
# Data and targets
# ----------------
# The CWL runs are ~285 s of 1000 Hz EEG at a measured TR of 1.95 s. The
# windows are resampled to 100 Hz, which keeps every band up to gamma.
sim = simulate_eeg_fmri(n_subjects=N_SUBJECTS, sfreq=250.0 if QUICK else 1000.0, random_state=0)
data = make_windows(sim.recordings, window=10.0, sfreq=100.0)
splitter = CommonModeSplitter()
y = splitter.fit_transform(data.y)  # (n_windows, 15): differential ROIs + common mode
target_names = list(splitter.get_feature_names_out(data.roi_names))
ceiling = pd.Series(
    np.append(sim.noise_ceiling_differential, sim.noise_ceiling_common_mode), index=target_names
)
print(data.X)

# %%
# The paper's split
# -----------------
# The last subject is the target. A window belongs to a part only if its
# whole 10 s of EEG lies inside it, so no window straddles two parts.
target_subject = np.unique(data.groups)[-1]
cv = PaperProtocolSplit(subjects=[target_subject])
train, valid, test = next(cv.split_with_validation(data.X, y))
for name, part in [("train", train), ("valid", valid), ("test", test)]:
    own = part[data.groups[part] == target_subject]
    span = f"{data.times[own].min() - 10:.0f}-{data.times[own].max():.0f} s" if own.size else ""
    print(f"{name:5s}: {part.size:4d} windows, {own.size:3d} of {target_subject} ({span})")

# %%
# Train and test every model
# --------------------------
# The network watches the validation part for early stopping
# (:class:`~skeeg2bold.nn.PredefinedValidSplit` marks which of the rows given
# to ``fit`` are validation rows) and restores its best epoch. The baselines
# need no validation set (their ridge penalty is chosen by an inner
# cross-validation on contiguous blocks of the training windows), so they are
# fitted on the training part alone.
fit_rows = np.concatenate([train, valid])
is_valid = np.arange(train.size, fit_rows.size)


def deep_model(seed, module):
    return EEG2BoldRegressor(
        module, max_epochs=MAX_EPOCHS, random_state=seed, train_split=PredefinedValidSplit(is_valid)
    )


# "network" is the paper's architecture (EEG2BoldNet); "compact" the
# interpretable CompactNet, the package's strongest model on few data.
tables, predictions = [], {}
for seed in SEEDS:
    for name, module in [("network", EEG2BoldNet), ("compact", CompactNet)]:
        deep = deep_model(seed, module).fit(data.X[fit_rows], y[fit_rows])
        predictions.setdefault(name, deep.predict(data.X[test]))
        tables.append(
            correlation_table(
                y[test], deep.predict(data.X[test]), target_names=target_names, model=name
            )
        )
for name, model in [("ridge", make_ridge_baseline()), ("HRF", make_hrf_baseline())]:
    model.fit(data.X[train], y[train])
    predictions[name] = model.predict(data.X[test])
    tables.append(
        correlation_table(y[test], predictions[name], target_names=target_names, model=name)
    )
scores = pd.concat(tables)

# %%
# Chance level
# ------------
# The paper's surrogate: the same network trained on EEG and BOLD that do not
# belong together (BOLD circularly shifted against the EEG by more than the
# window plus the hemodynamic memory), with the training and test pairs
# taken from separate parts of the recordings.
chance = chance_level(
    EEG2BoldRegressor(max_epochs=MAX_EPOCHS, random_state=0),
    data.X,
    y,
    n_repeats=CHANCE_REPEATS,
    random_state=0,
)

summary = scores.groupby(["target", "model"], sort=False)["r"].mean().unstack("model")
summary["chance (95%)"] = chance.upper
summary["ceiling"] = ceiling
print(summary.round(3))
print(summary.mean().round(3))

# %%
# Per-target accuracy: the paper's Fig. 3
# ---------------------------------------
# Bars: Pearson r on the 150 s test part (with several seeds, mean ± sd over
# seeds). Dashed line: chance, the 95th percentile of the surrogate's r
# pooled over targets; grey ticks: the same per target. Black diamonds: the
# simulator's noise ceiling, the best r any EEG-based predictor can reach.
models = ["network", "compact", "ridge", "HRF"]
colors = {"network": "tab:purple", "compact": "tab:green", "ridge": "tab:blue", "HRF": "tab:orange"}
stats = scores.groupby(["model", "target"])["r"].agg(["mean", "std"])
fig, ax = plt.subplots(figsize=(8.5, 7.5), layout="constrained")
pos = np.arange(len(target_names))[::-1]
height = 0.8 / len(models)
for k, model in enumerate(models):
    s = stats.loc[model].reindex(target_names)
    ax.barh(
        pos + ((len(models) - 1) / 2 - k) * height,
        s["mean"],
        height=height,
        xerr=s["std"].fillna(0.0),
        color=colors[model],
        label=model,
        error_kw=dict(lw=0.8, capsize=2),
    )
ax.scatter(chance.upper, pos, marker="|", s=150, color="0.45", zorder=3)
ax.axvline(np.percentile(chance.scores, 95), color="0.3", ls="--", label="chance (95th pct.)")
ax.scatter(
    ceiling.reindex(target_names), pos, marker="D", s=18, color="k", zorder=4, label="noise ceiling"
)
ax.axvline(0, color="k", lw=0.6)
ax.set_yticks(pos, target_names)
ax.set_xlabel(f"Pearson r on the test part of {target_subject}")
ax.set_title("EEG → BOLD accuracy per target (paper protocol)")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
plt.show()

# %%
# Predicted against measured BOLD on the test part
# ------------------------------------------------
# Only EEG enters the models at this point: the BOLD encoder of the network
# is used in training only.
fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True, layout="constrained")
best_roi = summary["network"].iloc[:-1].idxmax()
for ax, target in zip(axes, [best_roi, target_names[0], "common_mode"]):
    k = target_names.index(target)
    z = lambda v: (v - v.mean()) / v.std()  # noqa: E731
    ax.plot(data.bold_times[test], z(y[test, k]), color="k", lw=1.8, label="measured")
    for model in models:
        ax.plot(
            data.bold_times[test],
            z(predictions[model][:, k]),
            color=colors[model],
            lw=1.0,
            label=f"{model} (r = {summary.loc[target, model]:.2f})",
        )
    ax.set_title(target, loc="left")
    ax.set_ylabel("z-score")
    ax.legend(fontsize="x-small", ncol=4, loc="upper right")
axes[-1].set_xlabel(f"time (s), {target_subject}")
plt.show()

# %%
# The same experiment in one call is
# :func:`skeeg2bold.experiment.run_experiment`, which the ``skeeg2bold run``
# command uses; it repeats the protocol for every target subject on request
# and writes the tables and figures of a report.
