"""Constants shared across the package, each defined once.

The public names that users import stay where they are documented
(``skeeg2bold.io.SUBCORTICAL_ROIS``, ``skeeg2bold.datasets.ROI_NAMES``,
``skeeg2bold.features.DEFAULT_BANDS``, ``skeeg2bold.io.CWL_SUBJECTS``);
those modules import them from here. This module imports nothing of the
package, so any module may import it.
"""

import numpy as np

__all__ = [
    "BAND_EDGES",
    "BAND_NAMES",
    "CWL_SUBJECTS",
    "DEFAULT_BANDS",
    "HEMODYNAMIC_MEMORY",
    "READOUT_ALPHAS",
    "RIDGE_ALPHAS",
    "SUBCORTICAL_ROIS",
]

#: The 14 regions of the paper, in the Harvard-Oxford spelling and order.
SUBCORTICAL_ROIS = tuple(
    f"{side} {region}"
    for side in ("Left", "Right")
    for region in (
        "Thalamus",
        "Caudate",
        "Putamen",
        "Pallidum",
        "Hippocampus",
        "Amygdala",
        "Accumbens",
    )
)

#: Classical EEG rhythms (Hz); the default filter bank and the simulator's bands.
DEFAULT_BANDS = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}

#: Names of :data:`DEFAULT_BANDS`, low to high.
BAND_NAMES = tuple(DEFAULT_BANDS)

#: Edges (Hz) of :data:`DEFAULT_BANDS`: the bands tile 1-45 Hz.
BAND_EDGES = (DEFAULT_BANDS["delta"][0],) + tuple(hi for _, hi in DEFAULT_BANDS.values())

#: Subjects of the CWL dataset (four on a Siemens Trio, four on a Verio).
CWL_SUBJECTS = tuple(f"trio{k}" for k in range(1, 5)) + tuple(f"verio{k}" for k in range(5, 9))

#: Ridge penalties searched by the baselines' ``RidgeCV``.
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-1, 6, 8))

#: Ridge penalties searched when a network's linear readout is re-solved: the
#: same range as :data:`RIDGE_ALPHAS`, twice as fine (the solve is a cheap SVD).
READOUT_ALPHAS = tuple(float(a) for a in np.logspace(-1, 6, 15))

#: Seconds over which BOLD still reflects past neural activity: the canonical
#: HRF's undershoot has decayed by ~16 s after its onset.
HEMODYNAMIC_MEMORY = 16.0
