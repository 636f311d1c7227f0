"""Head, sensors and sources of the simulator, and their forward model.

The sensors are the 30-channel cap of the CWL data set placed at the
positions of mne's ``easycap-M1`` montage (the 10-20 system on a sphere; it
holds TP9, TP10 and POz), the head is mne's multi-shell spherical model fitted
to them, and the leadfield comes from :func:`mne.make_forward_solution`.
Each simulated subject gets its own head radius, sphere centre, electrode
placement, source positions and orientations, so that subjects differ the
way real heads do.
"""

import functools

import numpy as np

__all__ = [
    "CWL_CH_NAMES",
    "SOURCES",
    "N_BACKGROUND",
    "MONTAGE",
    "template_head",
    "subject_head",
]

#: The EEG channels of the CWL cap, in the order of the CWL recordings.
CWL_CH_NAMES = (
    "Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2",
    "F7", "F8", "T7", "T8", "P7", "P8", "Fz", "Cz", "Pz", "FC1",
    "FC2", "CP1", "CP2", "FC5", "FC6", "CP5", "CP6", "TP9", "TP10", "POz",
)  # fmt: skip

#: Standard montage of the simulated recordings (``Recording.montage``).
MONTAGE = "easycap-M1"


# Rhythmic sources: name; location as a vector from the sphere centre in
# units of the head radius (x right, y anterior, z up); whether it is deep;
# its spectral density (nAm/sqrt(Hz) at 10 Hz) of a 1/f**1.5 spectrum split
# into the five bands; and its spectral peaks as (band, centre Hz or "iaf",
# width Hz, height over the 1/f floor at 10 Hz). Cortical sources sit 2 cm
# below the scalp (0.78 of a 9 cm head), deep ones near the centre: the
# spherical forward model alone then gives deep sources their weak scalp
# footprint, and their smaller densities stand for the closed-field geometry
# of nuclei, which cancels much of their dipole moment. The peaks follow the
# textbook resting-state picture: posterior alpha, Rolandic mu and beta,
# frontal-midline theta, thalamic alpha and mesiotemporal theta.
SOURCES = (
    ("occipital-L", (-0.30, -0.72, 0.15), False, 12.0, (("alpha", "iaf", 1.0, 24.0),)),
    ("occipital-R", (0.30, -0.72, 0.15), False, 12.0, (("alpha", "iaf", 1.0, 24.0),)),
    ("parietal-M", (0.00, -0.50, 0.58), False, 12.0, (("alpha", "iaf", 1.2, 12.0),)),
    ("sensorimotor-L", (-0.47, -0.04, 0.62), False, 12.0,
     (("alpha", "iaf", 1.0, 3.0), ("beta", 20.0, 3.0, 1.0))),
    ("sensorimotor-R", (0.47, -0.04, 0.62), False, 12.0,
     (("alpha", "iaf", 1.0, 3.0), ("beta", 20.0, 3.0, 1.0))),
    ("frontal-M", (0.00, 0.43, 0.65), False, 12.0, (("theta", 6.0, 1.0, 2.0),)),
    ("prefrontal-L", (-0.27, 0.70, 0.20), False, 12.0, ()),
    ("prefrontal-R", (0.27, 0.70, 0.20), False, 12.0, ()),
    ("temporal-L", (-0.76, -0.12, -0.04), False, 12.0, (("alpha", "iaf", 1.5, 2.0),)),
    ("temporal-R", (0.76, -0.12, -0.04), False, 12.0, (("alpha", "iaf", 1.5, 2.0),)),
    ("thalamus-L", (-0.12, -0.15, 0.00), True, 5.0, (("alpha", "iaf", 1.0, 6.0),)),
    ("thalamus-R", (0.12, -0.15, 0.00), True, 5.0, (("alpha", "iaf", 1.0, 6.0),)),
    ("mesiotemporal-L", (-0.28, -0.10, -0.30), True, 5.0, (("theta", 6.0, 1.0, 6.0),)),
    ("mesiotemporal-R", (0.28, -0.10, -0.30), True, 5.0, (("theta", 6.0, 1.0, 6.0),)),
)  # fmt: skip

#: Farthest a source may sit from the sphere centre, in head radii: just
#: inside the inner skull of mne's sphere model (0.9).
_MAX_SOURCE_DEPTH = 0.89

#: Cortical dipoles carrying the aperiodic (1/f) background.
N_BACKGROUND = 48


@functools.lru_cache(maxsize=1)
def template_head():
    """Template electrode positions and the sphere fitted to them (cached).

    Fitting the sphere to the montage is the slow step of building a head,
    so it is done once per process.

    Returns
    -------
    head : dict
        ``"ch_pos"`` ndarray of shape (30, 3) in metres (head frame),
        ``"r0"`` ndarray of shape (3,), ``"radius"`` float,
        ``"background"`` ndarray of shape (N_BACKGROUND, 3) unit vectors.
    """
    import mne

    montage = mne.channels.make_standard_montage(MONTAGE)
    info = mne.create_info(list(CWL_CH_NAMES), 1000.0, ch_types="eeg")
    info.set_montage(montage)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    ch_pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    return {
        "ch_pos": ch_pos,
        "r0": np.asarray(sphere["r0"], dtype=float),
        "radius": float(sphere.radius),
        "background": _upper_hemisphere_grid(N_BACKGROUND),
    }


def _upper_hemisphere_grid(n):
    """Quasi-uniform unit vectors above the sphere's equator (Fibonacci spiral)."""
    k = np.arange(n) + 0.5
    z = 1.0 - k / n * 1.1  # a little below the equator: temporal cortex
    phi = k * np.pi * (3.0 - np.sqrt(5.0))
    rho = np.sqrt(1.0 - z**2)
    return np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


def subject_head(rng):
    """Forward model of one subject: jittered geometry, mne leadfield.

    Subjects differ from the template by a head radius sd 4 %, sphere centre
    sd 3 mm, electrode placement sd 4 mm, source positions sd 4 mm and
    cortical orientations tilted by ~15 degrees.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    head : dict
        ``"gain"`` ndarray of shape (30, n_sources) in V/(A m) for the fixed
        orientation of each rhythmic source; ``"gain_background"`` ndarray of
        shape (30, N_BACKGROUND); ``"src_pos"`` and ``"src_ori"`` ndarrays of
        shape (n_sources, 3), the dipoles (m, unit vectors); ``"ch_pos"``
        ndarray of shape (30, 3), the electrode positions actually used;
        ``"r0"`` and ``"radius"``, the sphere (m).
    """
    import mne

    template = template_head()
    radius = template["radius"] * (1.0 + 0.04 * rng.standard_normal())
    r0 = template["r0"] + 0.003 * rng.standard_normal(3)

    # Electrodes: template direction plus a placement error, on the scalp.
    ch_pos = template["ch_pos"] + 0.004 * rng.standard_normal((len(CWL_CH_NAMES), 3))
    ch_dir = _unit(ch_pos - template["r0"])
    ch_pos = r0 + radius * ch_dir

    loc = np.array([s[1] for s in SOURCES])
    deep = np.array([s[2] for s in SOURCES])
    src_pos = r0 + radius * loc + 0.004 * rng.standard_normal(loc.shape)
    # A rare jitter (about one subject in 25) pushes a cortical source through
    # the inner skull (0.9 of the radius), where mne has no leadfield: pull it
    # back inside. Draws that never reach it are unchanged.
    depth = np.linalg.norm(src_pos - r0, axis=1, keepdims=True)
    src_pos = r0 + (src_pos - r0) * np.minimum(1.0, _MAX_SOURCE_DEPTH * radius / depth)
    # Cortical dipoles are near-radial (pyramidal cells normal to the
    # surface, tilted by folding); deep ones have no preferred orientation.
    tilt = 0.27 * rng.standard_normal(loc.shape)
    src_ori = np.where(deep[:, None], rng.standard_normal(loc.shape), _unit(loc) + tilt)
    src_ori = _unit(src_ori)

    bg_dir = template["background"]
    bg_pos = r0 + 0.78 * radius * bg_dir
    bg_ori = _unit(bg_dir + 0.5 * rng.standard_normal(bg_dir.shape))

    info = mne.create_info(list(CWL_CH_NAMES), 1000.0, ch_types="eeg")
    montage = mne.channels.make_dig_montage(
        ch_pos=dict(zip(CWL_CH_NAMES, ch_pos)), coord_frame="head"
    )
    info.set_montage(montage)
    sphere = mne.make_sphere_model(r0=r0, head_radius=radius, verbose=False)
    rr = np.vstack([src_pos, bg_pos])
    nn = np.vstack([src_ori, bg_ori])
    # mindist=0: mne's default drops positions within 5 mm of the inner
    # skull, and a jittered cortical source (0.78 of the radius) can land there.
    src = mne.setup_volume_source_space(
        pos=dict(rr=rr, nn=nn), sphere=sphere, mindist=0.0, verbose=False
    )
    fwd = mne.make_forward_solution(info, None, src, sphere, meg=False, verbose=False)
    if fwd["nsource"] != rr.shape[0]:  # outside the inner skull: a bug in the geometry
        raise RuntimeError(
            f"the forward model kept {fwd['nsource']} of {rr.shape[0]} source positions."
        )
    # Free-orientation leadfield (3 columns per position) projected on the
    # dipole orientation of each source.
    free = fwd["sol"]["data"].reshape(len(CWL_CH_NAMES), rr.shape[0], 3)
    gain = np.einsum("cnk,nk->cn", free, nn)
    n_src = len(SOURCES)
    return {
        "gain": gain[:, :n_src],
        "gain_background": gain[:, n_src:],
        "src_pos": src_pos,
        "src_ori": src_ori,
        "ch_pos": ch_pos,
        "r0": r0,
        "radius": radius,
    }


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)
