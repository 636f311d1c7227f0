"""Distributed forward model of the burst simulator (:func:`simulate_burst_eeg_fmri`).

Unlike the rhythmic simulator's head (:mod:`._head`, one dipole per source),
the cortex here is a folded sheet of a few hundred to a thousand dipoles with
surface normals, in a four-shell sphere whose skull conductivity and layer
radii differ between subjects. A cortical source is a *patch*: a
Gaussian-weighted group of neighbouring dipoles whose centre and extent vary
per subject, so that its scalp pattern partly cancels and changes shape from
one subject to the next. Deep sources (thalamus, hippocampus, striatum) are
single dipoles whose orientation is drawn, per subject, inside a cone around
an anatomical axis.
"""

import functools

import numpy as np

from ._head import CWL_CH_NAMES, template_head

__all__ = ["BURST_SOURCES", "N_CORTEX", "N_BACKGROUND_PATCHES", "cortex_template", "burst_head"]

#: Dipoles of the template cortical sheet.
N_CORTEX = 1000
#: Random patches carrying the rest-of-cortex aperiodic activity.
N_BACKGROUND_PATCHES = 40

# Named sources: name, direction from the sphere centre (cortical: the
# patch centre on the sheet; deep: the position in head radii), whether it is
# deep, and for deep sources the axis of their orientation cone and the cone
# half-angle (degrees). The axes stand for the dominant geometry of each
# structure's open field: the thalamic relay dipoles point up and out, the
# hippocampal ones along the curved pyramidal layer (medial-lateral and up),
# the striatal ones, weakest and most variable, roughly antero-superior.
BURST_SOURCES = (
    ("occipital-L", (-0.35, -0.90, 0.25), False, None, None),
    ("occipital-R", (0.35, -0.90, 0.25), False, None, None),
    ("parietal-M", (0.00, -0.60, 0.80), False, None, None),
    ("sensorimotor-L", (-0.60, -0.05, 0.80), False, None, None),
    ("sensorimotor-R", (0.60, -0.05, 0.80), False, None, None),
    ("frontal-M", (0.00, 0.55, 0.83), False, None, None),
    ("prefrontal-L", (-0.35, 0.90, 0.25), False, None, None),
    ("prefrontal-R", (0.35, 0.90, 0.25), False, None, None),
    ("temporal-L", (-0.95, -0.15, 0.05), False, None, None),
    ("temporal-R", (0.95, -0.15, 0.05), False, None, None),
    ("thalamus-L", (-0.11, -0.17, 0.05), True, (-0.3, 0.0, 1.0), 30.0),
    ("thalamus-R", (0.11, -0.17, 0.05), True, (0.3, 0.0, 1.0), 30.0),
    ("hippocampus-L", (-0.30, -0.20, -0.28), True, (-1.0, 0.0, 0.6), 35.0),
    ("hippocampus-R", (0.30, -0.20, -0.28), True, (1.0, 0.0, 0.6), 35.0),
    ("striatum-L", (-0.22, 0.12, 0.08), True, (-0.2, 1.0, 0.5), 45.0),
    ("striatum-R", (0.22, 0.12, 0.08), True, (0.2, 1.0, 0.5), 45.0),
)  # fmt: skip

# Depth (head radii) of the cortical sheet and the amplitude of its folding.
_CORTEX_DEPTH = 0.76
_FOLD_DEPTH = 0.05


@functools.lru_cache(maxsize=1)
def cortex_template():
    """Template cortical sheet: unit directions, relative depth and normals.

    A Fibonacci grid over the upper 70 % of the sphere, pushed in and out by
    a smooth folding function ``g``; each dipole's normal is the normal of
    that folded surface, so that dipoles on the "sulcal walls" are tilted
    away from radial as on a real cortex.

    Returns
    -------
    cortex : dict
        ``"dir"`` (N_CORTEX, 3) unit vectors, ``"depth"`` (N_CORTEX,) in head
        radii, ``"nn"`` (N_CORTEX, 3) unit normals.
    """
    k = np.arange(N_CORTEX) + 0.5
    z = 1.0 - 1.4 * k / N_CORTEX  # down to 0.4 below the equator: temporal lobes
    phi = k * np.pi * (3.0 - np.sqrt(5.0))
    rho = np.sqrt(1.0 - z**2)
    u = np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])
    freq = 7.0

    def fold(v):
        return np.sin(freq * v[:, 0]) * np.sin(freq * v[:, 1] + 1.0) * np.cos(freq * v[:, 2])

    depth = _CORTEX_DEPTH + _FOLD_DEPTH * fold(u)
    # Surface normal of r(u) = depth(u) u: radial minus the tangential gradient
    # of the depth (finite differences along the tangent plane).
    eps = 1e-4
    grad = np.zeros_like(u)
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = eps
        grad[:, axis] = (fold(u + step) - fold(u - step)) / (2 * eps)
    grad *= _FOLD_DEPTH
    tangential = grad - np.sum(grad * u, axis=1, keepdims=True) * u
    nn = _unit(u - tangential / depth[:, None])
    return {"dir": u, "depth": depth, "nn": nn}


@functools.lru_cache(maxsize=16)
def burst_head(seed):
    """Forward model of one subject (cached on the seed of its head stream).

    Parameters
    ----------
    seed : tuple of int
        ``(entropy, k)``: subject ``k`` of a simulation's seed; the leadfield
        depends on nothing else, so it is computed once per process.

    Returns
    -------
    head : dict
        ``"gain"`` (30, n_sources) V/(A m) of every named source (a patch of
        unit total moment, or a deep dipole); ``"gain_background"`` (30,
        N_BACKGROUND_PATCHES); ``"gain_cortex"`` (30, N_CORTEX), the
        fixed-orientation leadfield of the sheet; ``"patch_weights"``
        (n_cortical, N_CORTEX), ``"patch_extent"`` (n_cortical,) metres;
        ``"src_pos"``, ``"src_ori"`` (n_sources, 3), the patch centres or
        deep dipoles and their (mean) orientation; ``"ch_pos"``, ``"r0"``,
        ``"radius"``, ``"relative_radii"``, ``"sigmas"``.
    """
    import mne

    rng = np.random.default_rng(np.random.SeedSequence(seed[0], spawn_key=(2, seed[1])))
    template = template_head()
    cortex = cortex_template()
    radius = template["radius"] * (1.0 + 0.05 * rng.standard_normal())
    r0 = template["r0"] + 0.004 * rng.standard_normal(3)
    # Subject-specific layers: skull thickness and conductivity (brain/skull
    # conductivity ratio from ~25 to ~80 in the literature), CSF and scalp.
    inner = rng.uniform(0.86, 0.89)
    relative_radii = (inner, inner + rng.uniform(0.015, 0.03), rng.uniform(0.95, 0.97), 1.0)
    sigmas = (rng.uniform(0.25, 0.4), 1.79, 0.33 / rng.uniform(25.0, 80.0), rng.uniform(0.3, 0.45))

    ch_dir = _unit(
        template["ch_pos"] + 0.005 * rng.standard_normal(template["ch_pos"].shape) - template["r0"]
    )
    ch_pos = r0 + radius * ch_dir

    # The sheet scales with the subject's brain, plus a smooth warp so that
    # the same template dipole is not at the same place in every subject.
    warp = 1.0 + 0.02 * np.sin(cortex["dir"] @ rng.standard_normal((3, 2)) * 3.0).sum(axis=1)
    depth = np.minimum(cortex["depth"] * warp, inner - 0.03)
    ctx_pos = r0 + radius * depth[:, None] * cortex["dir"]
    ctx_nn = cortex["nn"]

    deep = np.array([s[2] for s in BURST_SOURCES])
    deep_loc = np.array([s[1] for s in BURST_SOURCES if s[2]])
    deep_pos = r0 + radius * deep_loc + 0.004 * rng.standard_normal(deep_loc.shape)
    axes = _unit(np.array([s[3] for s in BURST_SOURCES if s[2]], dtype=float))
    angles = np.array([s[4] for s in BURST_SOURCES if s[2]])
    deep_ori = cone_sample(rng, axes, np.deg2rad(angles))

    info = mne.create_info(list(CWL_CH_NAMES), 1000.0, ch_types="eeg")
    info.set_montage(
        mne.channels.make_dig_montage(ch_pos=dict(zip(CWL_CH_NAMES, ch_pos)), coord_frame="head")
    )
    rr = np.vstack([ctx_pos, deep_pos])
    nn = np.vstack([ctx_nn, deep_ori])
    for attempt in range(1, 11):
        sphere = mne.make_sphere_model(
            r0=r0, head_radius=radius, relative_radii=relative_radii, sigmas=sigmas, verbose=False
        )
        src = mne.setup_volume_source_space(
            pos=dict(rr=rr, nn=nn), sphere=sphere, mindist=0.0, verbose=False
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            fwd = mne.make_forward_solution(info, None, src, sphere, meg=False, verbose=False)
        if np.all(np.isfinite(fwd["sol"]["data"])):
            break
        # mne's fit of the multi-shell sphere fails for a few layer draws (a
        # non-finite leadfield): draw the layers again from a stream of their
        # own, so that every other subject keeps its numbers.
        redraw = np.random.default_rng(
            np.random.SeedSequence(seed[0], spawn_key=(3, seed[1], attempt))
        )
        relative_radii = (
            inner,
            inner + redraw.uniform(0.015, 0.03),
            redraw.uniform(0.95, 0.97),
            1.0,
        )
        sigmas = (
            redraw.uniform(0.25, 0.4),
            1.79,
            0.33 / redraw.uniform(25.0, 80.0),
            redraw.uniform(0.3, 0.45),
        )
    else:
        raise RuntimeError("the forward model stayed non-finite after 10 draws of the layers.")
    if fwd["nsource"] != rr.shape[0]:  # outside the inner skull: a bug in the geometry
        raise RuntimeError(
            f"the forward model kept {fwd['nsource']} of {rr.shape[0]} source positions."
        )
    free = fwd["sol"]["data"].reshape(len(CWL_CH_NAMES), rr.shape[0], 3)
    gain_all = np.einsum("cnk,nk->cn", free, nn)
    gain_cortex, gain_deep = gain_all[:, :N_CORTEX], gain_all[:, N_CORTEX:]

    # Cortical patches: centre jittered ~1 cm around the template, extent
    # (Gaussian sd along the sheet) 8-20 mm, weights summing to one (a unit
    # total moment spread over the patch).
    centres = _unit(
        np.array([s[1] for s in BURST_SOURCES if not s[2]], dtype=float)
        + 0.12 * rng.standard_normal((int((~deep).sum()), 3))
    )
    extent = rng.uniform(0.008, 0.02, size=centres.shape[0])
    weights = _patches(cortex["dir"], centres, extent / (radius * _CORTEX_DEPTH))
    bg_centres = cortex["dir"][rng.choice(N_CORTEX, N_BACKGROUND_PATCHES, replace=False)]
    bg_weights = _patches(cortex["dir"], bg_centres, np.full(N_BACKGROUND_PATCHES, 0.25))
    gain = np.empty((len(CWL_CH_NAMES), len(BURST_SOURCES)))
    gain[:, ~deep] = gain_cortex @ weights.T
    gain[:, deep] = gain_deep
    src_pos = np.empty((len(BURST_SOURCES), 3))
    src_ori = np.empty((len(BURST_SOURCES), 3))
    src_pos[~deep] = weights @ ctx_pos
    src_ori[~deep] = _unit(weights @ ctx_nn)
    src_pos[deep], src_ori[deep] = deep_pos, deep_ori
    head = {
        "gain": gain,
        "gain_background": gain_cortex @ bg_weights.T,
        "gain_cortex": gain_cortex,
        "patch_weights": weights,
        "patch_extent": extent,
        "src_pos": src_pos,
        "src_ori": src_ori,
        "cone_axis": axes,
        "cone_angle": angles,
        "ch_pos": ch_pos,
        "r0": r0,
        "radius": radius,
        "relative_radii": relative_radii,
        "sigmas": sigmas,
    }
    for value in head.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False  # shared by every call through the cache
    return head


def cone_sample(rng, axes, half_angles):
    """Unit vectors drawn uniformly inside a cone around each axis.

    Parameters
    ----------
    rng : numpy.random.Generator
    axes : ndarray of shape (n, 3)
        Unit cone axes.
    half_angles : ndarray of shape (n,)
        Half-angles in radians.

    Returns
    -------
    ori : ndarray of shape (n, 3)
        Uniform on each spherical cap (``cos`` of the angle to the axis
        uniform in ``[cos(half_angle), 1]``).
    """
    cos_t = 1.0 - rng.uniform(0.0, 1.0, len(axes)) * (1.0 - np.cos(half_angles))
    sin_t = np.sqrt(1.0 - cos_t**2)
    psi = rng.uniform(0.0, 2 * np.pi, len(axes))
    # An orthonormal basis (e1, e2) of the plane normal to each axis.
    helper = np.where(np.abs(axes[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = _unit(np.cross(axes, helper))
    e2 = np.cross(axes, e1)
    return _unit(
        cos_t[:, None] * axes
        + sin_t[:, None] * (np.cos(psi)[:, None] * e1 + np.sin(psi)[:, None] * e2)
    )


def _patches(directions, centres, widths):
    """Gaussian weights over the sheet (rows sum to 1), widths in radians."""
    cos = np.clip(centres @ directions.T, -1.0, 1.0)
    angle = np.arccos(cos)
    w = np.exp(-0.5 * (angle / widths[:, None]) ** 2)
    w[angle > 3.0 * widths[:, None]] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)
