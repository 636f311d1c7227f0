"""
Loading real EEG-fMRI data: the CWL layout (and BIDS)
=====================================================

The paper used the public CWL data set (van der Meer et al. 2016): EEGLAB
EEG files at 1000 Hz with 30 EEG channels, EOG, ECG and six carbon-wire-loop
channels, volume onsets as ``mri`` annotations, and MNI-normalised BOLD
images with their realignment parameters. :func:`~skeeg2bold.io.read_cwl`
turns one run into a :class:`~skeeg2bold.Recording`: the EEG channels, the
ROI time series of the 14 subcortical regions extracted from the image, and
the measured onset of every volume.

The data cannot be downloaded here, so when no copy is found this example
first *writes* simulated subjects in exactly that layout with
:func:`~skeeg2bold.io.write_cwl`, then reads them back like real ones. Point
the environment variable ``SKEEG2BOLD_CWL_ROOT`` at a downloaded copy (the
folder holding ``eeg/`` and ``mri/``, see :doc:`/real_data`) to run it on the
real recordings.
"""

# %%
# Settings
# --------
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.signal import detrend
from sklearn.model_selection import GroupKFold, cross_val_score

from skeeg2bold import make_windows
from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.io import (
    CWL_SUBJECTS,
    BOLDRoiTargets,
    VolumeMarkerWarning,
    make_toy_atlas,
    read_cwl,
    write_cwl,
)
from skeeg2bold.metrics import mean_r_scorer

QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
N_SUBJECTS = 2 if QUICK else 4
CWL_ROOT = os.environ.get("SKEEG2BOLD_CWL_ROOT")

# %%
# Real data if present, else simulated files in the CWL layout
# ------------------------------------------------------------
# The simulated subjects get the CWL subject names, and their files the
# published names. As in the real runs, the last three volumes of each run
# have no ``mri`` marker (143 markers for 146 volumes in one CWL run). The
# images are written on a small demonstration atlas
# (:func:`~skeeg2bold.io.make_toy_atlas`: one box per ROI, not anatomy) to
# keep the files small; real data use the Harvard-Oxford atlas.
if CWL_ROOT and (Path(CWL_ROOT) / "eeg").is_dir():
    root = Path(CWL_ROOT)
    subjects = list(CWL_SUBJECTS[:N_SUBJECTS])
    bold_targets = BOLDRoiTargets()  # Harvard-Oxford subcortical atlas, 14 ROIs
    sim = workdir = None
else:
    workdir = tempfile.TemporaryDirectory(prefix="cwl-")  # removed at the end
    root = Path(workdir.name)
    sim = simulate_eeg_fmri(n_subjects=N_SUBJECTS, sfreq=1000.0, random_state=0)
    for rec, name in zip(sim.recordings, CWL_SUBJECTS):
        rec.subject = name
    atlas = make_toy_atlas()
    write_cwl(sim, root, atlas=atlas, n_missing_markers=3)
    subjects = [rec.subject for rec in sim.recordings]
    bold_targets = BOLDRoiTargets(atlas=atlas)

for path in sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()):
    print(path)

# %%
# Read the runs
# -------------
# One call per run. The reader warns when markers and volumes differ in
# number and applies the package's rule: marker *k* is volume *k*, and the
# missing trailing onsets are extrapolated with the measured TR (about
# 1.95 s on these scanners, not the nominal 2 s). ``return_raw=True`` also
# gives the full :class:`mne.io.Raw`, with the EOG, ECG and carbon-wire
# channels the Recording leaves out.
recordings = []
for subject in subjects:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VolumeMarkerWarning)
        rec, raw = read_cwl(root, subject, bold_targets=bold_targets, return_raw=True)
    for w in caught:
        print(f"{subject}: {w.message}")
    recordings.append(rec)
    print(rec)
print(raw)

# %%
# The EEG and its volume markers
# ------------------------------
# The first 20 s of a few EEG channels of the last run, with the ``mri``
# markers (the volume onsets) as vertical lines.
picks = ["Fz", "Cz", "Pz", "O1", "O2"]
start, stop = raw.time_as_index([0.0, 20.0])
eeg, times = raw.get_data(picks=picks, start=start, stop=stop, return_times=True)
onsets = raw.annotations.onset[raw.annotations.description == "mri"]
fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
offsets = 4 * np.std(eeg) * np.arange(len(picks))[::-1]
ax.plot(times, eeg.T + offsets, lw=0.5, color="k")
for t in onsets[onsets < times[-1]]:
    ax.axvline(t, color="tab:red", lw=0.8, alpha=0.6)
ax.set_yticks(offsets, picks)
ax.set_xlabel("time (s)")
ax.set_title(f"{rec.subject}: EEG with volume markers (red)")
plt.show()

# %%
# The ROI time series
# -------------------
# What :class:`~skeeg2bold.io.BOLDRoiTargets` extracted from the image: the
# mean over each ROI's voxels, with the motion parameters and a linear trend
# regressed out, standardised. For the simulated files the signals written
# into the image are known, so the round trip can be checked against them
# (linearly detrended the same way).
fig, axes = plt.subplots(3, 1, figsize=(8, 5), sharex=True, layout="constrained")
for ax, k in zip(axes, [0, 3, 7]):
    ax.plot(rec.volume_times, rec.bold[:, k], color="k", lw=1.5, label="read from the image")
    if sim is not None:
        truth = detrend(sim.recordings[-1].bold[:, k])
        r = np.corrcoef(truth, rec.bold[:, k])[0, 1]
        z = (truth - truth.mean()) / truth.std() * rec.bold[:, k].std() + rec.bold[:, k].mean()
        ax.plot(
            sim.recordings[-1].volume_times,
            z,
            "--",
            color="tab:orange",
            label=f"written (r = {r:.3f})",
        )
    ax.set_title(rec.roi_names[k], loc="left")
    ax.legend(fontsize="small", loc="upper right")
axes[-1].set_xlabel("volume onset (s, EEG clock)")
plt.show()

# %%
# From here on, as with any data
# ------------------------------
# The recordings go through :func:`~skeeg2bold.make_windows` (resampled to
# 100 Hz; the volumes without a full 10 s of EEG before them, and those whose
# extrapolated onset falls after the end of the EEG, are dropped with a
# count) and into any model. A quick subject-wise check with the ridge
# baseline:
data = make_windows(recordings, window=10.0, sfreq=100.0)
print(data.X)
scores = cross_val_score(
    make_ridge_baseline(),
    data.X,
    data.y,
    groups=data.groups,
    cv=GroupKFold(n_splits=len(recordings)),
    scoring=mean_r_scorer,
)
print("mean r per held-out subject:", scores.round(3))

# %%
# BIDS data
# ---------
# Simultaneous EEG-fMRI in BIDS is read the same way with
# :func:`~skeeg2bold.io.read_bids`: the EEG from ``sub-*/eeg`` through
# mne-bids (volume triggers such as ``R128`` become the onsets) and the BOLD
# from ``sub-*/func`` or, better, fMRIPrep's MNI-space output with its
# confounds table::
#
#     from skeeg2bold.io import read_bids
#
#     rec = read_bids("/data/bids", subject="01", task="rest",
#                     space="MNI152NLin6Asym")   # fMRIPrep derivatives
#
# The Harvard-Oxford atlas that :class:`~skeeg2bold.io.BOLDRoiTargets` uses by
# default is part of FSL and distributed under the FSL licence
# (non-commercial use); see :doc:`/real_data`.

# %%
# Remove the simulated files (a copy of real data is left untouched).
if workdir is not None:
    workdir.cleanup()
