"""A second, independent EEG-fMRI simulator: bursts, aperiodic activity, patches.

:func:`simulate_burst_eeg_fmri` differs in kind from
:func:`~skeeg2bold.datasets.simulate_eeg_fmri` in every part a model could be
tuned to: a distributed cortical source space with extended patches instead
of single dipoles; transient bursts on a 1/f**beta background whose offset
and exponent drift, instead of continuous amplitude-modulated band
oscillations; coupling through burst rates and broadband changes with a
saturating nonlinearity; Glover HRFs with a time derivative; muscle, pop,
drift and mains artefacts. It returns the same Bunch, so that
:func:`~skeeg2bold.datasets.ceiling_for` and
:func:`~skeeg2bold.datasets.source_recordings` work on it unchanged. The
model is written out in ``docs/simulator.rst``.
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._recording import Recording
from .._validation import check_int, check_memory, check_positive, validate_type
from ._bold import BOLD_SD_PERCENT, volume_onsets
from ._burst_eeg import RHYTHM_INDEX, RHYTHMS, draw_bursts, scalp_eeg_bursts, source_activity
from ._burst_head import BURST_SOURCES, N_BACKGROUND_PATCHES, burst_head
from ._head import CWL_CH_NAMES, MONTAGE
from ._signals import LATENT_SFREQ, sample, slow_processes, standardize
from ._simulate import ROI_NAMES, ceiling_for

__all__ = ["simulate_burst_eeg_fmri", "BURST_FEATURE_NAMES"]

_SOURCE_NAMES = tuple(s[0] for s in BURST_SOURCES)
_DEEP = np.array([s[2] for s in BURST_SOURCES])
_CORTICAL = tuple(n for n, d in zip(_SOURCE_NAMES, _DEEP) if not d)

# EEG-visible latent processes. Each acts on the EEG through up to three
# routes: the log burst rate of some rhythms ("rate": (source, band,
# weight)), the broadband log-amplitude offset of some sources ("offset":
# (source, weight)) and the spectral tilt (aperiodic exponent) of some
# sources ("tilt": (source, weight), positive = steeper). "Arousal" is the
# shared part: flatter, stronger broadband activity and fewer posterior
# alpha bursts over the whole cortex.
_FEATURES = (
    ("posterior alpha burst rate", {"rate": [("occipital-L", "alpha", 1.0),
     ("occipital-R", "alpha", 1.0), ("parietal-M", "alpha", 0.8)]}),
    ("frontal theta burst rate", {"rate": [("frontal-M", "theta", 1.0),
     ("prefrontal-L", "theta", 0.6), ("prefrontal-R", "theta", 0.6)]}),
    ("left Rolandic beta burst rate", {"rate": [("sensorimotor-L", "beta", 1.0),
     ("sensorimotor-L", "alpha", 0.5)]}),
    ("right Rolandic beta burst rate", {"rate": [("sensorimotor-R", "beta", 1.0),
     ("sensorimotor-R", "alpha", 0.5)]}),
    ("left thalamic alpha burst rate", {"rate": [("thalamus-L", "alpha", 1.0),
     ("occipital-L", "alpha", 0.3)]}),
    ("right thalamic alpha burst rate", {"rate": [("thalamus-R", "alpha", 1.0),
     ("occipital-R", "alpha", 0.3)]}),
    ("hippocampal theta burst rate", {"rate": [("hippocampus-L", "theta", 1.0),
     ("hippocampus-R", "theta", 1.0), ("temporal-L", "theta", 0.5),
     ("temporal-R", "theta", 0.5)]}),
    ("striatal beta burst rate", {"rate": [("striatum-L", "beta", 1.0),
     ("striatum-R", "beta", 1.0), ("prefrontal-L", "beta", 0.4),
     ("prefrontal-R", "beta", 0.4)]}),
    ("arousal", {"offset": [(s, 0.5) for s in _CORTICAL],
                 "tilt": [(s, -0.5) for s in _CORTICAL],
                 "rate": [("occipital-L", "alpha", -0.4), ("occipital-R", "alpha", -0.4)]}),
    ("left aperiodic exponent", {"tilt": [("sensorimotor-L", 1.0), ("prefrontal-L", 1.0),
                                          ("temporal-L", 1.0)]}),
    ("right aperiodic exponent", {"tilt": [("sensorimotor-R", 1.0), ("prefrontal-R", 1.0),
                                           ("temporal-R", 1.0)]}),
    ("frontal broadband power", {"offset": [("prefrontal-L", 1.0), ("prefrontal-R", 1.0),
                                            ("frontal-M", 1.0)]}),
)  # fmt: skip
#: The EEG-visible latent processes of the burst simulator (``truth[k].latents``).
BURST_FEATURE_NAMES = tuple(f[0] for f in _FEATURES)

# Group coupling of each ROI (by structure, "ipsi" = same side) to the
# latent processes; every ROI also follows arousal (the common mode).
_COUPLING = {
    "Thalamus": {"ipsi thalamic alpha burst rate": 0.6, "posterior alpha burst rate": 0.4},
    "Caudate": {"frontal theta burst rate": 0.5, "frontal broadband power": 0.4,
                "striatal beta burst rate": -0.3},
    "Putamen": {"ipsi Rolandic beta burst rate": -0.5, "striatal beta burst rate": -0.4,
                "ipsi aperiodic exponent": -0.3},
    "Pallidum": {"striatal beta burst rate": -0.5, "ipsi Rolandic beta burst rate": -0.3},
    "Hippocampus": {"hippocampal theta burst rate": 0.6, "frontal theta burst rate": 0.3},
    "Amygdala": {"hippocampal theta burst rate": 0.4, "ipsi aperiodic exponent": 0.4},
    "Accumbens": {"frontal broadband power": 0.5, "striatal beta burst rate": -0.3},
}  # fmt: skip
_AROUSAL_WEIGHT = 0.4

# How strongly the latents move the EEG: log burst rate, log amplitude
# offset and spectral tilt per unit (sd) of a latent process.
_RATE_GAIN = 0.7
_OFFSET_GAIN = 0.25
_TILT_GAIN = 0.3
# The BOLD at t = 0 depends on 30 s of earlier neural activity (HRF length).
_BURN_IN = 40.0
# Rhythms are synthesised at about this rate and upsampled once.
_SOURCE_SFREQ = 200.0
_BOLD_NOISE_PARTS = {"global": 0.35, "physiological": 0.2, "thermal": 0.3, "drift": 0.15}


def simulate_burst_eeg_fmri(
    n_subjects=8,
    duration=285.0,
    sfreq=1000.0,
    *,
    tr=1.95,
    snr=1.0,
    coupling=1.0,
    subject_variability=0.5,
    eeg_noise=1.0,
    artifacts=True,
    dtype=np.float32,
    random_state=None,
):
    """Simulate EEG-fMRI runs with bursting sources on a distributed cortex.

    A second simulator family, independent of :func:`simulate_eeg_fmri` and
    different in kind, so that a model chosen on one can be tested honestly
    on the other. Each subject gets 30-channel EEG (the CWL cap) from a
    four-shell spherical head (mne) whose skull conductivity and layer radii
    vary per subject; cortical sources are Gaussian patches of a folded
    1000-dipole sheet whose centre and extent vary per subject; deep sources
    (thalamus, hippocampus, striatum) are dipoles whose orientation is drawn
    inside an anatomical cone. Every source emits 1/f**beta aperiodic
    activity, whose offset and exponent drift, plus theta, alpha and beta
    *bursts* with Poisson onsets whose rate follows slow latent processes.
    The BOLD of the 14 subcortical ROIs follows a saturating function of
    those latent processes (burst rates and broadband changes) and a part
    the EEG does not see, convolved with a Glover HRF plus a time derivative
    (subject- and ROI-specific), plus global, physiological, thermal and
    drift noise, at jittered volume onsets. The model, with equations, is in
    ``docs/simulator.rst``.

    Parameters
    ----------
    n_subjects : int, default=8
        Number of subjects, one run each.
    duration : float, default=285.0
        Length of each EEG run in seconds (at least 10 TRs).
    sfreq : float, default=1000.0
        EEG sampling rate in Hz, at least 100.
    tr : float, default=1.95
        Repetition time in seconds.
    snr : float, default=1.0
        Variance of the neural BOLD over the variance of the non-neural BOLD
        noise.
    coupling : float, default=1.0
        Strength of the EEG-visible part of the neural drive: it is
        multiplied by ``coupling`` before the EEG-invisible part is added, so
        0 makes the BOLD independent of the EEG and the noise ceiling rises
        with it.
    subject_variability : float, default=0.5
        Scale of each subject's deviation from the group coupling weights
        (relative to their RMS).
    eeg_noise : float, default=1.0
        Multiplies the background patches and the sensor noise.
    artifacts : bool, default=True
        Add muscle (EMG) bursts at temporal channels, electrode pops,
        electrode drifts and 50 Hz mains interference (when 50 Hz is below
        Nyquist).
    dtype : numpy dtype, default=numpy.float32
        Floating type of the EEG (volts).
    random_state : int, numpy.random.RandomState or None, default=None
        Seed. Subject ``k`` depends only on the seed, ``k`` and the other
        arguments, not on ``n_subjects``.

    Returns
    -------
    data : sklearn.utils.Bunch
        The same fields as :func:`simulate_eeg_fmri`: ``recordings``,
        ``truth``, ``noise_ceiling``, ``noise_ceiling_differential``,
        ``noise_ceiling_common_mode``, ``design_ceiling``, ``roi_names``,
        ``ch_names``, ``source_names``, ``band_names`` (the burst bands),
        ``feature_names`` and ``params``.

    Notes
    -----
    Each ``truth[k]`` holds, on the 10 Hz latent grid ``latent_times``:
    ``latents`` (``feature_names``), ``burst_rate`` (per second, one column
    per rhythm of ``rhythm_names``), ``offset`` and ``tilt`` (per source),
    ``drive`` and ``drive_visible`` (per ROI); at the volumes
    ``bold_clean`` and ``oracle`` (``E[BOLD | latents]``); ``bursts`` (a
    structured array: source, rhythm, onset, duration, freq, amplitude);
    ``sources`` (nAm, per source, at ``sources_sfreq``), ``deep`` (which
    sources are deep), ``gain`` (V/(A m)), ``src_pos``, ``src_ori``,
    ``cone_axis`` and ``cone_angle`` (degrees) of the deep sources,
    ``patch_extent`` (m), ``coupling``, ``invisible``, ``hrf_delay``,
    ``hrf_derivative``, ``aperiodic_exponent`` and ``iaf``.

    Examples
    --------
    >>> from skeeg2bold.datasets import simulate_burst_eeg_fmri
    >>> sim = simulate_burst_eeg_fmri(n_subjects=1, duration=60.0, sfreq=100.0,
    ...                               random_state=0)
    >>> sim.recordings[0].eeg.shape, len(sim.source_names)
    ((30, 6000), 16)
    """
    n_subjects = check_int(n_subjects, "n_subjects", min_value=1)
    sfreq = check_positive(sfreq, "sfreq")
    if sfreq < 100.0:
        raise ValueError(f"sfreq must be >= 100 Hz so that gamma (30-45 Hz) fits, got {sfreq}.")
    tr = check_positive(tr, "tr")
    duration = check_positive(duration, "duration")
    if duration < 10 * tr:
        raise ValueError(f"duration must be at least 10 TRs ({10 * tr:g} s), got {duration}.")
    snr = check_positive(snr, "snr")
    coupling = check_positive(coupling, "coupling", allow_zero=True)
    subject_variability = check_positive(
        subject_variability, "subject_variability", allow_zero=True
    )
    eeg_noise = check_positive(eeg_noise, "eeg_noise", allow_zero=True)
    validate_type(artifacts, (bool, np.bool_), "artifacts", "bool")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}.")
    n_times = duration * sfreq
    n_src = len(BURST_SOURCES) + 2 * N_BACKGROUND_PATCHES + 2 * len(CWL_CH_NAMES)
    check_memory(
        int(n_subjects * len(CWL_CH_NAMES) * n_times * dtype.itemsize + 8 * n_src * n_times),
        f"simulate_burst_eeg_fmri(n_subjects={n_subjects}, duration={duration:g}, "
        f"sfreq={sfreq:g}, dtype={dtype.name})",
        "Simulate fewer or shorter runs, at a lower sfreq or in float32.",
    )
    params = dict(
        n_subjects=n_subjects,
        duration=duration,
        sfreq=sfreq,
        tr=tr,
        snr=snr,
        coupling=coupling,
        subject_variability=subject_variability,
        eeg_noise=eeg_noise,
        artifacts=artifacts,
        dtype=dtype.name,
        random_state=random_state,
    )
    entropy = int(check_random_state(random_state).randint(0, 2**31 - 1))
    group = _group_model(_stream(entropy, 0))
    recordings, truth = [], []
    for k in range(n_subjects):
        rec, gt = _simulate_subject(
            _stream(entropy, 1, k),
            (entropy, k),
            f"sub-{k + 1:02d}",
            group,
            duration=duration,
            sfreq=sfreq,
            tr=tr,
            snr=snr,
            coupling=coupling,
            subject_variability=subject_variability,
            eeg_noise=eeg_noise,
            artifacts=artifacts,
            dtype=dtype,
        )
        recordings.append(rec)
        truth.append(gt)
    visible = coupling**2 * (1.0 - group["invisible"])
    sim = Bunch(
        recordings=recordings,
        truth=truth,
        roi_names=list(ROI_NAMES),
        ch_names=list(CWL_CH_NAMES),
        source_names=list(_SOURCE_NAMES),
        band_names=sorted({r[1] for r in RHYTHMS}),
        rhythm_names=[f"{r[0]} {r[1]}" for r in RHYTHMS],
        feature_names=list(BURST_FEATURE_NAMES),
        design_ceiling=np.sqrt(visible / (visible + group["invisible"]) * snr / (1.0 + snr)),
        params=params,
    )
    n_rois = len(ROI_NAMES)
    sim.noise_ceiling = ceiling_for(sim)
    sim.noise_ceiling_differential = ceiling_for(sim, np.eye(n_rois) - 1.0 / n_rois)
    sim.noise_ceiling_common_mode = float(ceiling_for(sim, np.full((n_rois, 1), 1.0 / n_rois))[0])
    return sim


def _stream(entropy, *key):
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


def _group_model(rng):
    """Group coupling, EEG-invisible fractions and HRF delays shared by subjects."""
    n_feat = len(BURST_FEATURE_NAMES)
    weights = np.zeros((len(ROI_NAMES), n_feat))
    for r, roi in enumerate(ROI_NAMES):
        side, structure = roi.split(" ", 1)
        ipsi = "left" if side == "Left" else "right"
        for name, w in _COUPLING[structure].items():
            if name.startswith("ipsi "):
                name = f"{ipsi} {name[5:]}"
            weights[r, BURST_FEATURE_NAMES.index(name)] = w
        weights[r, BURST_FEATURE_NAMES.index("arousal")] = _AROUSAL_WEIGHT
    weights += 0.15 * rng.standard_normal(weights.shape)
    return {
        "coupling": weights,
        "invisible": rng.uniform(0.2, 0.4, size=len(ROI_NAMES)),
        "hrf_delay": rng.uniform(-0.5, 0.5, size=len(ROI_NAMES)),
    }


def _loadings():
    """Latent -> (log rate per rhythm, offset per source, tilt per source)."""
    n_feat, n_src = len(BURST_FEATURE_NAMES), len(_SOURCE_NAMES)
    rate = np.zeros((n_feat, len(RHYTHMS)))
    offset = np.zeros((n_feat, n_src))
    tilt = np.zeros((n_feat, n_src))
    for j, (_, routes) in enumerate(_FEATURES):
        for source, band, w in routes.get("rate", []):
            rate[j, RHYTHM_INDEX[source, band]] += w
        for source, w in routes.get("offset", []):
            offset[j, _SOURCE_NAMES.index(source)] += w
        for source, w in routes.get("tilt", []):
            tilt[j, _SOURCE_NAMES.index(source)] += w
    return rate, offset, tilt


def _simulate_subject(
    rng, head_seed, subject, group, *, duration, sfreq, tr, snr, coupling,
    subject_variability, eeg_noise, artifacts, dtype,
):  # fmt: skip
    """One subject's Recording and ground truth."""
    n_rois, n_src = len(ROI_NAMES), len(_SOURCE_NAMES)
    head = burst_head(head_seed)
    iaf = float(np.clip(rng.normal(10.0, 0.9), 8.0, 12.5))
    weights = group["coupling"] + subject_variability * np.sqrt(
        np.mean(group["coupling"] ** 2)
    ) * rng.standard_normal(group["coupling"].shape)
    invisible = np.clip(group["invisible"] + 0.05 * rng.standard_normal(n_rois), 0.02, 0.6)
    hrf_delay = group["hrf_delay"] + rng.uniform(-0.6, 0.6) + 0.3 * rng.standard_normal(n_rois)
    hrf_derivative = 0.5 * rng.standard_normal(n_rois)
    exponent = rng.uniform(1.2, 2.0) + 0.1 * rng.standard_normal(n_src)

    n_lat = int(np.ceil((duration + _BURN_IN) * LATENT_SFREQ)) + 1
    latent_times = np.arange(n_lat) / LATENT_SFREQ - _BURN_IN
    latents = slow_processes(rng, len(BURST_FEATURE_NAMES), n_lat)

    # EEG side: burst rates, offsets and tilts follow the latents (with
    # subject-specific gains), plus nuisance drifts unrelated to the BOLD.
    load_rate, load_offset, load_tilt = _loadings()
    gain = np.exp(0.25 * rng.standard_normal(len(RHYTHMS)))
    base_rate = np.array([r[4] for r in RHYTHMS]) * np.exp(0.3 * rng.standard_normal(len(RHYTHMS)))
    log_rate = _RATE_GAIN * gain * (latents @ load_rate) + 0.3 * slow_processes(
        rng, len(RHYTHMS), n_lat, cutoff=0.2
    )
    burst_rate = base_rate * np.exp(log_rate)
    offset = _OFFSET_GAIN * (latents @ load_offset) + 0.15 * slow_processes(
        rng, n_src, n_lat, cutoff=0.2
    )
    tilt = _TILT_GAIN * (latents @ load_tilt) + 0.15 * slow_processes(rng, n_src, n_lat, cutoff=0.2)
    background_offset = _OFFSET_GAIN * latents[:, BURST_FEATURE_NAMES.index("arousal")]

    # Separate streams for the EEG and the BOLD, so that the EEG options
    # (noise, artefacts, rate) leave the sources and the BOLD unchanged.
    eeg_rng, bold_rng = rng.spawn(2)
    up = max(1, int(sfreq // _SOURCE_SFREQ))
    fs = sfreq / up
    n_times = int(round(duration * sfreq))
    n_int = -(-n_times // up)
    bursts = draw_bursts(eeg_rng, burst_rate, latent_times, iaf, n_int / fs)
    sources = source_activity(eeg_rng, bursts, offset, tilt, exponent, latent_times, n_int, fs)
    eeg = scalp_eeg_bursts(
        eeg_rng,
        head,
        sources,
        background_offset,
        float(np.mean(exponent)),
        latent_times,
        sfreq=sfreq,
        up=up,
        n_times=n_times,
        eeg_noise=eeg_noise,
        artifacts=artifacts,
        dtype=dtype,
    )

    # BOLD side: a saturating function of the latents, plus a hidden part.
    visible = standardize(np.tanh(standardize(latents @ weights.T)))
    hidden = standardize(
        np.sqrt(0.5) * slow_processes(bold_rng, 1, n_lat) * bold_rng.uniform(0.5, 1.5, n_rois)
        + np.sqrt(0.5) * slow_processes(bold_rng, n_rois, n_lat)
    )
    drive_visible = coupling * np.sqrt(1.0 - invisible) * visible
    drive = drive_visible + np.sqrt(invisible) * hidden
    volume_times = volume_onsets(bold_rng, duration, tr)
    hrfs = np.column_stack([_glover(d, c) for d, c in zip(hrf_delay, hrf_derivative)])
    neural = sample(_convolve(drive, hrfs), latent_times, volume_times)
    oracle = sample(_convolve(drive_visible, hrfs), latent_times, volume_times)
    scale = neural.std(axis=0)
    signal_sd = np.sqrt(snr / (1.0 + snr)) * BOLD_SD_PERCENT
    noise_sd = np.sqrt(1.0 / (1.0 + snr)) * BOLD_SD_PERCENT
    bold_clean = signal_sd * neural / scale
    oracle = signal_sd * oracle / scale
    bold = bold_clean + noise_sd * _bold_noise(bold_rng, latent_times, volume_times, n_rois)

    rec = Recording(
        eeg,
        bold,
        volume_times,
        sfreq=sfreq,
        ch_names=list(CWL_CH_NAMES),
        roi_names=list(ROI_NAMES),
        subject=subject,
        montage=MONTAGE,
    )
    truth = Bunch(
        subject=subject,
        latent_times=latent_times,
        latents=latents,
        burst_rate=burst_rate,
        offset=offset,
        tilt=tilt,
        drive=drive,
        drive_visible=drive_visible,
        bold_clean=bold_clean,
        oracle=oracle,
        bursts=bursts,
        sources=sources.astype(np.float32),
        sources_sfreq=fs,
        deep=_DEEP.copy(),
        gain=np.array(head["gain"]),
        src_pos=np.array(head["src_pos"]),
        src_ori=np.array(head["src_ori"]),
        cone_axis=np.array(head["cone_axis"]),
        cone_angle=np.array(head["cone_angle"]),
        patch_extent=np.array(head["patch_extent"]),
        coupling=weights,
        invisible=invisible,
        hrf_delay=hrf_delay,
        hrf_derivative=hrf_derivative,
        aperiodic_exponent=exponent,
        iaf=iaf,
    )
    return rec, truth


def _glover(delay, derivative):
    """Glover HRF (nilearn) delayed by ``delay`` s plus ``derivative`` times its
    time derivative, on the latent grid, unit peak."""
    from nilearn.glm.first_level import glover_hrf, glover_time_derivative

    dt = 1.0 / LATENT_SFREQ
    # nilearn's onset shifts the response; a negative one is a shorter delay.
    onset = float(delay)
    h = glover_hrf(dt, oversampling=1, time_length=32.0, onset=onset)
    h = h + derivative * glover_time_derivative(dt, oversampling=1, time_length=32.0, onset=onset)
    return h / np.abs(h).max()


def _convolve(drive, hrfs):
    from scipy.signal import oaconvolve

    return oaconvolve(drive, hrfs, axes=0, mode="full")[: drive.shape[0]]


def _bold_noise(rng, latent_times, volume_times, n_rois):
    """Global, physiological, AR(1) thermal and polynomial drift noise, unit variance."""
    n_lat, n_vol = latent_times.size, volume_times.size
    glob = slow_processes(rng, 1, n_lat, cutoff=0.08) * rng.uniform(0.6, 1.4, n_rois)
    t = latent_times
    resp = np.sin(2 * np.pi * rng.uniform(0.2, 0.4) * t + rng.uniform(0, 2 * np.pi))
    card = np.sin(2 * np.pi * rng.uniform(0.8, 1.4) * t + rng.uniform(0, 2 * np.pi))
    phys = np.outer(resp, rng.uniform(0.3, 1.2, n_rois)) + np.outer(
        card, rng.uniform(0.3, 1.2, n_rois)
    )
    thermal = np.empty((n_vol, n_rois))
    thermal[0] = rng.standard_normal(n_rois)
    for i in range(1, n_vol):
        thermal[i] = 0.3 * thermal[i - 1] + rng.standard_normal(n_rois)
    x = 2.0 * (volume_times - volume_times[0]) / np.ptp(volume_times) - 1.0
    drift = np.column_stack([x, 0.5 * (3 * x**2 - 1)]) @ rng.standard_normal((2, n_rois))
    parts = {
        "global": sample(glob, t, volume_times),
        "physiological": sample(phys, t, volume_times),
        "thermal": thermal,
        "drift": drift,
    }
    noise = sum(np.sqrt(w) * standardize(parts[name]) for name, w in _BOLD_NOISE_PARTS.items())
    return standardize(noise)
