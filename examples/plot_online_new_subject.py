"""
A live twin for a new subject: EEG-only calibration, intervals, OOD score
=========================================================================

A lab deploys a twin for a subject who never lay in the scanner. The model
(an aligned log-envelope ridge, with 90 % conformal prediction intervals)
was trained on other subjects' simultaneous EEG-fMRI. The new subject gives
a minute of EEG alone; the twin learns the subject's reference from it, then
predicts the BOLD of 14 deep structures (minus their mean) and the common
mode from the live EEG, with an interval per target and an
out-of-distribution score per step. The live EEG is the rest of the
subject's recording, played over Lab Streaming Layer as an amplifier would
stream it. See :doc:`/user_guide/online`.
"""

# %%
import os
import tempfile
import uuid
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import mne
import numpy as np
from mne_lsl.player import PlayerLSL
from sklearn.pipeline import make_pipeline

from skeeg2bold import make_windows
from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.features import SubjectAlignment
from skeeg2bold.online import OnlineTwin
from skeeg2bold.targets import CommonModeSplitter
from skeeg2bold.uncertainty import ConformalRegressor

QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
sim = simulate_eeg_fmri(n_subjects=5, sfreq=250.0 if QUICK else 1000.0, random_state=0)
train, new = sim.recordings[:4], sim.recordings[4]

# %%
# Train on four subjects, with intervals
# --------------------------------------
# 10 s windows, as in the paper. The intervals are calibrated on the last
# 20 % of each training subject (a contiguous block, purged of the windows
# within the HRF's memory of it).
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    data = make_windows(train, window=10.0, sfreq=100.0)
splitter = CommonModeSplitter().fit(data.y)
names = [str(n) for n in splitter.get_feature_names_out(data.roi_names)]
model = ConformalRegressor(
    make_pipeline(SubjectAlignment(), make_ridge_baseline(log=True)), coverage=0.9
).fit(data.X, splitter.transform(data.y))
print("interval half-widths:", np.round(model.half_width_[:3], 3), "...")

# %%
# The new subject: a minute of EEG, then the live stream
# ------------------------------------------------------
# The calibration recording is a file, as a lab would save it; the live EEG
# is the rest of the recording.
raw = mne.io.RawArray(new.eeg, new.info, verbose="error")
folder = Path(tempfile.mkdtemp())
calibration = folder / "calibration_raw.fif"
raw.copy().crop(0, 60).save(calibration, verbose="error")
live = raw.copy().crop(60, None)
name = f"eeg-{uuid.uuid4().hex[:8]}"
player = PlayerLSL(live, chunk_size=25, name=name, source_id=name).start()
rows = []
try:
    with OnlineTwin(
        model, name=name, step=0.5, target_names=names, subject="new", calibration=calibration
    ) as twin:
        twin.run(duration=30.0, callback=rows.append)
finally:
    player.stop()
print(twin.channel_names_[:2], "...", twin.channel_names_[-2:])
print(twin.stats_)

# %%
# What the twin published
# -----------------------
# Three targets with their 90 % intervals, and the out-of-distribution
# p-value of each step (small: EEG unlike the calibration minute). The
# intervals are wide: the simulated BOLD is noisy and a linear model of
# channel envelopes explains a modest part of it, and an honest interval
# says so.
ok = [r for r in rows if r.status in ("ok", "ood")]
t = np.array([r.timestamp for r in ok]) - ok[0].timestamp
y = np.array([r.prediction for r in ok])
lo, hi = np.array([r.lower for r in ok]), np.array([r.upper for r in ok])
fig, axes = plt.subplots(4, 1, sharex=True, figsize=(8, 7))
for k, ax in enumerate(axes[:3]):
    ax.plot(t, y[:, k], color=f"C{k}")
    ax.fill_between(t, lo[:, k], hi[:, k], color=f"C{k}", alpha=0.25, lw=0)
    ax.set_ylabel(f"{names[k]}\n(differential)", fontsize="small")
axes[3].semilogy(t, [r.ood_p for r in ok], ".", color="0.3")
axes[3].axhline(0.01, color="tab:red", lw=1, label="alpha = 0.01")
axes[3].set_ylabel("ood_p")
axes[3].legend(loc="lower right", fontsize="small")
axes[3].set_xlabel("time since the first prediction (s)")
fig.suptitle("Live twin of a new subject: predictions, 90 % intervals, OOD score")
fig.tight_layout()
plt.show()
