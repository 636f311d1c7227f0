"""
Interpreting the network: spatial and spectral patterns of its branches
=======================================================================

The front end of the paper's network is a set of *branches*, each a spatial
filter (a weighted sum of the electrodes), a temporal filter and an envelope
detector. Because each branch is linear up to the envelope, its weights can be
turned into what a neurophysiologist reads (the paper's Fig. 4):

* a **spatial pattern**, the scalp topography of the source the branch
  extracts: the data covariance times the spatial filter (Haufe et al. 2014),
  computed after the branch's temporal filter (Petrosyan et al. 2021);
* a **temporal pattern**, the band it extracts: the temporal filter's
  frequency response weighted by the spectrum of the spatially filtered EEG.

On simulated data the true sources are known, so we can also check that the
patterns, unlike the raw filter weights, look like real source topographies.
"""

# %%
# Settings
# --------
# ``SKEEG2BOLD_QUICK=1`` (set by the documentation build) trains on three
# subjects for a few epochs, about half a minute on two CPU cores; run the
# script without it for eight subjects and a full training.
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from skeeg2bold import make_windows
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.nn import EEG2BoldNet, EEG2BoldRegressor, branch_patterns, plot_branch_patterns
from skeeg2bold.targets import CommonModeSplitter

QUICK = os.environ.get("SKEEG2BOLD_QUICK") == "1"
N_SUBJECTS = 3 if QUICK else 8
MAX_EPOCHS = 8 if QUICK else 40
N_BRANCHES = 8  # the paper has 15; eight keep the figure readable

# %%
# Train the paper's network
# -------------------------
# On all windows of the simulated subjects, with the paper's 15 targets (14
# differential ROIs and their common mode). The regressor holds out the end of
# each subject's recording for early stopping.
sim = simulate_eeg_fmri(n_subjects=N_SUBJECTS, sfreq=250.0, random_state=0)
data = make_windows(sim.recordings, window=10.0, sfreq=100.0)
y = CommonModeSplitter().fit_transform(data.y)

model = EEG2BoldRegressor(
    EEG2BoldNet, module__n_branches=N_BRANCHES, max_epochs=MAX_EPOCHS, random_state=0, verbose=1
)
model.fit(data.X, y)

# %%
# Patterns of every branch
# ------------------------
# :func:`~skeeg2bold.nn.branch_patterns` reads the trained weights and the
# EEG they were trained on; ``data.info`` carries the electrode positions
# (the simulator uses the CWL cap in the standard 10-20 layout).
patterns = branch_patterns(model, data.X, info=data.info)
print(patterns.spatial_patterns.shape, patterns.temporal_patterns.shape)

# %%
# The paper's Fig. 4: for each branch, the topography of its spatial pattern
# (red and blue are opposite signs; a pattern is defined up to its sign) and
# its temporal pattern in the frequency domain (solid) beside the response of
# its temporal filter alone (dashed).
fig = plot_branch_patterns(patterns, fmax=45.0, show=False)
plt.show()

# %%
# Patterns, not filters, look like sources
# ----------------------------------------
# The simulator knows the scalp topography of each of its sources (its
# leadfield, averaged over the subjects' slightly different heads). For each
# branch we find the source whose topography best matches (absolute
# correlation) the branch's spatial *pattern*, and the same for its raw
# spatial *filter*. A filter must also cancel the other sources, so its
# weights resemble no single source; the pattern undoes that mixing.
#
# This is a property of the pattern computation, not of the training: the
# branches of an *untrained* network (random spatial filters) have
# source-like patterns too. A pattern tells *what* a branch listens to;
# whether that matters for the BOLD is what the training decides and what the
# accuracy and the chance level measure.
leadfield = np.mean([truth.gain for truth in sim.truth], axis=0)  # (n_channels, n_sources)


def best_source(topography):
    r = [abs(np.corrcoef(topography, leadfield[:, s])[0, 1]) for s in range(leadfield.shape[1])]
    return sim.source_names[int(np.argmax(r))], max(r)


torch.manual_seed(0)  # the untrained network's random filters
untrained = EEG2BoldNet(
    n_chans=len(data.ch_names),
    n_times=data.X.shape[2],
    n_outputs=y.shape[1],
    sfreq=data.sfreq,
    n_branches=N_BRANCHES,
)
untrained_patterns = branch_patterns(untrained, data.X)
rows = []
for b in range(N_BRANCHES):
    source, r_pattern = best_source(patterns.spatial_patterns[b])
    rows.append(
        dict(
            branch=b,
            source=source,
            r_pattern=r_pattern,
            r_filter=best_source(patterns.spatial_filters[b])[1],
            r_untrained_pattern=best_source(untrained_patterns.spatial_patterns[b])[1],
        )
    )
table = pd.DataFrame(rows)
print(table.round(2).to_string(index=False))

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
ax.bar(table["branch"] - 0.27, table["r_pattern"], width=0.27, label="pattern (trained)")
ax.bar(table["branch"], table["r_filter"], width=0.27, label="filter weights (trained)")
ax.bar(
    table["branch"] + 0.27,
    table["r_untrained_pattern"],
    width=0.27,
    color="0.6",
    label="pattern (untrained)",
)
ax.set_xticks(
    table["branch"], [f"{b}\n{s}" for b, s in zip(table["branch"], table["source"])], fontsize=7
)
ax.set_ylim(0, 1.2)
ax.set_yticks(np.linspace(0, 1, 6))
ax.set_xlabel("branch and the simulated source its pattern matches best")
ax.set_ylabel("|r| with the best source topography")
ax.set_title("Spatial patterns resemble sources, filter weights do not")
ax.legend(fontsize="small", loc="upper center", ncol=3)
plt.show()

# %%
# The temporal patterns weigh each filter's response by the spectrum of the
# EEG it filters. Where a filter passes a band in which the EEG has little
# power (the high-frequency branches, on the flat tail of the 1/f spectrum),
# the pattern is small; where the EEG has a strong rhythm, such as the
# posterior alpha, it stands out even at the edge of a filter's band. The
# network's temporal filters start as a bank of band-pass filters from 2 to
# 40 Hz and training reshapes them; in the quick setting they have moved
# little from that start, so read the spectra as "which band of this source
# the branch sees" rather than as a learned discovery.
