"""
Classical baselines: lagged-envelope ridge, HRF convolution and chance
======================================================================

Before trusting a deep network, measure what the simple models reach. This
example compares the two classical EEG-to-BOLD models of the package on the
embedded simulated data, subject by subject:

* the **lagged-envelope ridge** (:func:`~skeeg2bold.baselines.make_ridge_baseline`):
  band envelopes of every channel read at delays of 0 to 10 s, and a ridge
  regression that learns each feature's hemodynamic response;
* the **HRF-convolution model** (:func:`~skeeg2bold.baselines.make_hrf_baseline`):
  the same envelopes convolved with a canonical HRF, then a ridge;
* the **chance level** of each (:func:`~skeeg2bold.model_selection.chance_level`):
  the same pipeline trained and tested on EEG and BOLD that do not belong
  together;

and draws their predictions of a held-out subject against the measured BOLD.
"""

# %%
# Settings
# --------
# ``SKEEG2BOLD_QUICK=1`` (set by the documentation build) shrinks the data so
# that the example runs in well under a minute; the scores printed on this
# page are then those of four short simulated subjects. Run the script without
# it for the full-size data set.
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, cross_val_predict

from skeeg2bold import make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.metrics import correlation_table
from skeeg2bold.model_selection import chance_level
from skeeg2bold.targets import CommonModeSplitter

QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
N_SUBJECTS = 4 if QUICK else 8
DURATION = 200.0 if QUICK else 285.0  # seconds of EEG-fMRI per subject
CHANCE_REPEATS = 3 if QUICK else 10

# %%
# Data: simulated subjects, one 10 s window per volume, 15 targets
# ----------------------------------------------------------------
# The simulator produces CWL-like recordings (30 EEG channels, TR 1.95 s, 14
# subcortical ROIs). As in the paper, the targets are each ROI's deviation
# from the mean of the 14 plus that mean, the common mode.
sim = simulate_eeg_fmri(n_subjects=N_SUBJECTS, duration=DURATION, sfreq=250.0, random_state=0)
data = make_windows(sim.recordings, window=10.0, sfreq=100.0)
splitter = CommonModeSplitter()
y = splitter.fit_transform(data.y)
target_names = list(splitter.get_feature_names_out(data.roi_names))
ceiling = np.append(sim.noise_ceiling_differential, sim.noise_ceiling_common_mode)
print(data.X)
print("targets:", y.shape)

# %%
# Subject-wise cross-validation
# -----------------------------
# Every subject is predicted by a model trained on the others
# (:class:`~sklearn.model_selection.GroupKFold` on the subjects), so no window
# of a test subject, nor any of its neighbours, is seen in training. The
# accuracy is Pearson r per target within each subject.
models = {"ridge": make_ridge_baseline(), "HRF": make_hrf_baseline()}
cv = GroupKFold(n_splits=N_SUBJECTS)
tables, chance, predictions = [], {}, {}
for name, model in models.items():
    y_pred = cross_val_predict(model, data.X, y, groups=data.groups, cv=cv)
    predictions[name] = y_pred
    tables.append(
        correlation_table(y, y_pred, target_names=target_names, groups=data.groups, model=name)
    )
    chance[name] = chance_level(model, data.X, y, n_repeats=CHANCE_REPEATS, random_state=0)
scores = pd.concat(tables)
summary = scores.groupby(["model", "target"], sort=False)["r"].agg(["mean", "std"])
print(summary.unstack("model").round(3))
print(scores.groupby("model")["r"].mean().round(3))

# %%
# Per-target accuracy against chance and the noise ceiling
# --------------------------------------------------------
# Bars: mean r over subjects (error bars: sd over subjects). Grey ticks: the
# 95th percentile of each target's chance distribution; dashed line: the
# same pooled over targets. Black diamonds: the simulator's noise ceiling,
# the best r any EEG-based predictor could reach.
fig, ax = plt.subplots(figsize=(8.5, 7), layout="constrained")
pos = np.arange(len(target_names))[::-1]
for k, (name, color) in enumerate(zip(models, ["tab:blue", "tab:orange"])):
    s = summary.loc[name].reindex(target_names)
    ax.barh(
        pos + (0.2 if k == 0 else -0.2),
        s["mean"],
        height=0.4,
        xerr=s["std"],
        color=color,
        label=name,
        error_kw=dict(lw=0.8, capsize=2),
    )
    ax.scatter(
        chance[name].upper, pos + (0.2 if k == 0 else -0.2), marker="|", s=60, color="0.4", zorder=3
    )
pooled = np.percentile(np.concatenate([c.scores.ravel() for c in chance.values()]), 95)
ax.axvline(pooled, ls="--", color="0.3", label="chance (95th percentile)")
ax.scatter(ceiling, pos, marker="D", s=16, color="k", zorder=4, label="noise ceiling")
ax.axvline(0, color="k", lw=0.6)
ax.set_yticks(pos, target_names)
ax.set_xlabel("Pearson r, held-out subjects (mean ± sd)")
ax.set_title("Classical baselines, subject-wise cross-validation")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
plt.show()

# %%
# Predicted against measured BOLD
# -------------------------------
# The held-out predictions of the first subject, for the common mode and the
# best-predicted differential ROI (both z-scored). Each model saw none of
# this subject's data.
subject = np.unique(data.groups)[0]
rows = data.groups == subject
best = summary.loc["ridge"]["mean"].iloc[:-1].idxmax()
fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True, layout="constrained")
for ax, target in zip(axes, [best, "common_mode"]):
    k = target_names.index(target)
    z = lambda v: (v - v.mean()) / v.std()  # noqa: E731
    ax.plot(data.bold_times[rows], z(y[rows, k]), color="k", lw=1.8, label="measured")
    for name, color in zip(models, ["tab:blue", "tab:orange"]):
        r = scores.query("model == @name and group == @subject and target == @target")["r"]
        ax.plot(
            data.bold_times[rows],
            z(predictions[name][rows, k]),
            color=color,
            label=f"{name} (r = {r.item():.2f})",
        )
    ax.set_title(target, loc="left")
    ax.set_ylabel("z-score")
    ax.legend(fontsize="small", ncol=3, loc="upper right")
axes[-1].set_xlabel(f"time (s), subject {subject}")
plt.show()

# %%
# On real data the ridge and HRF models are where the paper's network must
# start from; the :ref:`paper-protocol example <sphx_glr_auto_examples_plot_paper_protocol.py>`
# compares them with it under the paper's protocol.
