"""
The embedded EEG-fMRI simulator
===============================

:func:`~skeeg2bold.datasets.simulate_eeg_fmri` produces recordings shaped like
the CWL data of the paper — 30 EEG channels, TR 1.95 s, the 14 Harvard-Oxford
subcortical ROIs — together with the ground truth that generated them: the
slow latent processes, the source envelopes, the neural drive of every ROI,
the noise-free BOLD and the oracle prediction that sets the noise ceiling.
This example draws one subject: an EEG snippet, the envelopes, the spectra
and the BOLD. The model is written out in :doc:`/simulator`.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.signal import welch

from skeeg2bold.datasets import simulate_eeg_fmri

# ``SKEEG2BOLD_QUICK=1`` (set by the documentation build) simulates at 250 Hz;
# run without it for the CWL rate, 1000 Hz.
QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
sim = simulate_eeg_fmri(n_subjects=2, sfreq=250.0 if QUICK else 1000.0, random_state=0)
rec, truth = sim.recordings[0], sim.truth[0]
print(rec)

# %%
# The noise ceiling
# -----------------
# No EEG-based predictor can beat ``corr(BOLD, oracle)``: the oracle is the
# BOLD expected from every latent process the EEG reflects. The ceilings are
# set by ``snr`` and ``invisible_fraction``; the defaults make them 0.45-0.65
# per ROI, as in a good real data set.
for name, raw, diff in zip(sim.roi_names, sim.noise_ceiling, sim.noise_ceiling_differential):
    print(f"{name:18s} ceiling r = {raw:.2f} (ROI), {diff:.2f} (ROI minus common mode)")
print(f"{'common mode':18s} ceiling r = {sim.noise_ceiling_common_mode:.2f}")

# %%
# EEG, envelopes, spectra and BOLD of one subject
# -----------------------------------------------
fig, axes = plt.subplots(4, 1, figsize=(9, 12), gridspec_kw=dict(height_ratios=[1.3, 1, 1, 1.2]))

# (a) 6 s of EEG around the largest frontal deflection: an eye blink.
channels = ["Fp1", "Fz", "Cz", "T7", "Pz", "O1", "O2"]
fp1 = rec.ch_names.index("Fp1")
centre = int(np.argmax(np.abs(rec.eeg[fp1, : int(120 * rec.sfreq)])))
start = max(0, centre - int(2 * rec.sfreq))
stop = start + int(6 * rec.sfreq)
t = np.arange(start, stop) / rec.sfreq
for k, ch in enumerate(channels):
    trace = rec.eeg[rec.ch_names.index(ch), start:stop] * 1e6
    axes[0].plot(t, trace - 80 * k, lw=0.6, color="k")
axes[0].set_yticks(-80 * np.arange(len(channels)), channels)
axes[0].set_xlabel("time (s)")
axes[0].set_title("a. EEG (80 µV between traces): posterior alpha, a frontal eye blink")

# (b) amplitude envelopes of some source rhythms, on the 10 Hz latent grid.
shown = [
    ("occipital-L", "alpha"),
    ("frontal-M", "theta"),
    ("sensorimotor-L", "beta"),
    ("thalamus-L", "alpha"),
    ("mesiotemporal-L", "theta"),
]
run = truth.latent_times >= 0
for source, band in shown:
    env = truth.envelopes[run, sim.source_names.index(source), sim.band_names.index(band)]
    axes[1].plot(truth.latent_times[run], env, lw=0.8, label=f"{source} {band}")
axes[1].set_yscale("log")
axes[1].set_ylabel("amplitude (nAm)")
axes[1].set_xlabel("time (s)")
axes[1].legend(fontsize=7, ncol=3, loc="upper right")
axes[1].set_title("b. Source envelopes: slow (< 0.1 Hz) 1/f-like fluctuations")

# (c) spectra: posterior alpha peak over a 1/f background.
freqs, psd = welch(rec.eeg.astype(float), rec.sfreq, nperseg=int(4 * rec.sfreq))
keep = (freqs >= 1) & (freqs <= 60)
for ch in ("O1", "Pz", "Cz", "Fz"):
    axes[2].loglog(freqs[keep], psd[rec.ch_names.index(ch), keep] * 1e12, lw=1, label=ch)
axes[2].set_xlabel("frequency (Hz)")
axes[2].set_ylabel("PSD (µV²/Hz)")
axes[2].legend(fontsize=8)
axes[2].set_title("c. EEG spectra")

# (d) BOLD of three ROIs: measured, noise-free, and the oracle (EEG-visible part).
for k, roi in enumerate(["Left Thalamus", "Left Putamen", "Right Hippocampus"]):
    j = sim.roi_names.index(roi)
    offset = -3.0 * k
    axes[3].plot(
        rec.volume_times, rec.bold[:, j] + offset, color="k", lw=1, label="BOLD" if k == 0 else None
    )
    axes[3].plot(
        rec.volume_times,
        truth.bold_clean[:, j] + offset,
        color="tab:blue",
        lw=1,
        label="noise-free" if k == 0 else None,
    )
    axes[3].plot(
        rec.volume_times,
        truth.oracle[:, j] + offset,
        color="tab:orange",
        lw=1.5,
        label="oracle (EEG-visible)" if k == 0 else None,
    )
    axes[3].text(
        rec.volume_times[0],
        offset + 1.0,
        f"{roi} (ceiling r = {sim.noise_ceiling[j]:.2f})",
        fontsize=8,
    )
axes[3].set_yticks([])
axes[3].set_xlabel("volume onset (s)")
axes[3].set_ylabel("BOLD (% signal change)")
axes[3].legend(fontsize=8, ncol=3, loc="lower right")
axes[3].set_title(f"d. BOLD at the volumes (TR {rec.tr:.2f} s)")
fig.tight_layout()
plt.show()
