"""Simultaneous EEG-fMRI simulator with a known noise ceiling.

This module holds the public functions and the neurovascular model (latent
processes, coupling, drives, ceiling); the head and forward model are in
``_head``, the EEG synthesis in ``_eeg``, the haemodynamics and BOLD noise in
``_bold``. The generative model is written out in ``docs/simulator.rst``;
the comments say why each piece is built the way it is.
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._constants import BAND_NAMES, SUBCORTICAL_ROIS
from .._recording import Recording
from .._validation import check_int, check_memory, check_positive, validate_type
from ._bold import BOLD_SD_PERCENT, bold_noise, convolve_hrf, hrf, volume_onsets
from ._eeg import band_amplitudes, scalp_eeg
from ._head import CWL_CH_NAMES, MONTAGE, SOURCES, subject_head
from ._scanner import add_scanner_artifacts
from ._signals import LATENT_SFREQ, sample, slow_processes, standardize

__all__ = ["simulate_eeg_fmri", "ceiling_for", "source_recordings", "ROI_NAMES", "FEATURE_NAMES"]

#: The 14 subcortical ROIs (:data:`skeeg2bold.io.SUBCORTICAL_ROIS`).
ROI_NAMES = SUBCORTICAL_ROIS

_SOURCE_NAMES = tuple(s[0] for s in SOURCES)
_BROADENING = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])  # low bands down, high bands up


def _power(source, band, weight):
    return [(source, band, weight)]


def _broadening(source, weight):
    return [(source, band, weight * c) for band, c in zip(BAND_NAMES, _BROADENING)]


# EEG-visible latent processes: each modulates the log-amplitude of some
# (source, band) oscillations, so an EEG method can in principle recover it.
# "Broadening" is the Kilner et al. (2005) mechanism: power moving from low
# to high frequencies at one source, invisible to a single-band power feature.
# "Drowsiness" is the EEG vigilance shift (slow rhythms up, alpha down over
# the whole cortex) that every ROI follows: the EEG-visible part of the
# common mode.
_FEATURES = (
    ("posterior alpha power", _power("occipital-L", "alpha", 0.7)
     + _power("occipital-R", "alpha", 0.7) + _power("parietal-M", "alpha", 0.6)),
    ("frontal-midline theta power", _power("frontal-M", "theta", 0.8)),
    ("left Rolandic beta power", _power("sensorimotor-L", "beta", 0.7)
     + _power("sensorimotor-L", "alpha", 0.4)),
    ("right Rolandic beta power", _power("sensorimotor-R", "beta", 0.7)
     + _power("sensorimotor-R", "alpha", 0.4)),
    ("left Rolandic spectral broadening", _broadening("sensorimotor-L", 0.6)),
    ("right Rolandic spectral broadening", _broadening("sensorimotor-R", 0.6)),
    ("prefrontal spectral broadening", _broadening("prefrontal-L", 0.6)
     + _broadening("prefrontal-R", 0.6)),
    ("temporal alpha power", _power("temporal-L", "alpha", 0.6)
     + _power("temporal-R", "alpha", 0.6)),
    ("left thalamic alpha power", _power("thalamus-L", "alpha", 0.7)
     + _power("thalamus-L", "theta", 0.4)),
    ("right thalamic alpha power", _power("thalamus-R", "alpha", 0.7)
     + _power("thalamus-R", "theta", 0.4)),
    ("mesiotemporal theta power", _power("mesiotemporal-L", "theta", 0.7)
     + _power("mesiotemporal-R", "theta", 0.7)),
    ("drowsiness", [term for source, _, deep, *_ in SOURCES if not deep
                    for term in _power(source, "delta", 0.3) + _power(source, "theta", 0.3)
                    + _power(source, "alpha", -0.3)]),
)  # fmt: skip
#: The EEG-visible latent processes, columns of ``truth[k].latents``.
FEATURE_NAMES = tuple(f[0] for f in _FEATURES)

# Group coupling of each ROI to the features, per hemisphere, keyed by the
# ROI name without its side; "ipsi ..." resolves to the same-side feature.
# Motivated by known correlates: thalamic BOLD rises with alpha power
# (Goldman et al. 2002), the motor loop (putamen, pallidum) follows Rolandic
# beta and broadening, the associative/limbic loops (caudate, accumbens)
# prefrontal activity, the hippocampus and amygdala mesiotemporal theta.
_COUPLING = {
    "Thalamus": {"drowsiness": 0.35, "posterior alpha power": 0.6, "ipsi thalamic alpha power": 0.5,
                 "ipsi Rolandic spectral broadening": 0.3},
    "Caudate": {"drowsiness": 0.35, "prefrontal spectral broadening": 0.5,
                "posterior alpha power": -0.3, "frontal-midline theta power": 0.3},
    "Putamen": {"drowsiness": 0.35, "ipsi Rolandic spectral broadening": 0.5,
                "ipsi Rolandic beta power": -0.4, "posterior alpha power": -0.3},
    "Pallidum": {"drowsiness": 0.35, "ipsi Rolandic beta power": -0.5,
                 "ipsi Rolandic spectral broadening": 0.3, "ipsi thalamic alpha power": 0.2},
    "Hippocampus": {"drowsiness": 0.35, "mesiotemporal theta power": 0.6,
                    "frontal-midline theta power": 0.3, "posterior alpha power": -0.2},
    "Amygdala": {"drowsiness": 0.35, "mesiotemporal theta power": 0.4, "temporal alpha power": -0.3,
                 "prefrontal spectral broadening": 0.3},
    "Accumbens": {"drowsiness": 0.35, "prefrontal spectral broadening": 0.5,
                  "frontal-midline theta power": 0.3, "posterior alpha power": -0.2},
}  # fmt: skip

# How much of each ROI's drive is invisible to EEG, relative to
# ``invisible_fraction``: the thalamus, tightly linked to cortical rhythms,
# is the most visible; the amygdala and accumbens the least.
_INVISIBLE_OFFSET = {
    "Thalamus": -0.15,
    "Caudate": 0.0,
    "Putamen": -0.05,
    "Pallidum": 0.05,
    "Hippocampus": 0.05,
    "Amygdala": 0.12,
    "Accumbens": 0.1,
}

# The BOLD at t = 0 depends on 30 s of earlier neural activity (HRF length).
_BURN_IN = 40.0
# Width of the log-amplitude fluctuations of every oscillation.
_ENVELOPE_SD = 0.5


def simulate_eeg_fmri(
    n_subjects=8,
    duration=285.0,
    sfreq=1000.0,
    *,
    tr=1.95,
    snr=1.0,
    invisible_fraction=0.4,
    subject_variability=0.5,
    eeg_noise=1.0,
    artifacts=True,
    scanner_artifacts=False,
    dtype=np.float32,
    random_state=None,
):
    """Simulate resting-state EEG-fMRI runs shaped like the CWL data set.

    Each subject gets 30-channel EEG (the CWL cap, mne spherical head model)
    produced by cortical and deep rhythmic sources whose amplitude envelopes
    follow slow latent processes, plus a 1/f background, sensor noise, eye
    blinks and a residual ballistocardiogram; and the BOLD of the 14
    Harvard-Oxford subcortical ROIs, generated from a neural drive that mixes
    some of those latent processes (including spectral broadening) with a
    part no EEG source reflects, convolved with a subject- and ROI-specific
    haemodynamic response, plus global, physiological, thermal and drift
    noise, sampled at jittered volume onsets. The full model, with equations
    and defaults, is in the documentation (``docs/simulator.rst``).

    Parameters
    ----------
    n_subjects : int, default=8
        Number of subjects, one run each (the CWL data: 8).
    duration : float, default=285.0
        Length of each EEG run in seconds. The CWL runs are about 146 volumes
        at TR 1.95 s (~285 s); the paper's protocol (train 68.7 s, validate
        60 s, test 150 s, with 10 s windows) needs at least ~280 s.
    sfreq : float, default=1000.0
        EEG sampling rate in Hz (the CWL data: 1000 Hz). At least 100 Hz, so
        that the gamma band (30-45 Hz) is below Nyquist.
    tr : float, default=1.95
        Repetition time in seconds (the measured CWL TR).
    snr : float, default=1.0
        Variance of the neural BOLD over the variance of the non-neural BOLD
        noise (global, physiological, thermal, drift).
    invisible_fraction : float, default=0.4
        Average fraction of the neural drive's variance that no EEG source
        reflects (ROIs differ around it, from -0.15 for the thalamus to
        +0.12 for the amygdala). In [0, 0.85].
    subject_variability : float, default=0.5
        Scale of each subject's deviation from the group coupling weights
        (relative to their RMS); 0 gives every subject the same coupling.
    eeg_noise : float, default=1.0
        Multiplies the aperiodic background and the sensor noise.
    artifacts : bool, default=True
        Add eye blinks and a residual ballistocardiogram to the EEG.
    scanner_artifacts : bool, default=False
        Simulate EEG recorded inside the scanner, before carbon-wire loop
        cleaning: a pulse artefact driven by a heartbeat with beat-to-beat
        variation, a helium-pump artefact (~42 Hz) and head-motion jerks,
        tens of microvolts on the EEG, each entering the EEG through its own
        spatial pattern and six carbon-wire loops (``CW1``-``CW6``, no brain
        signal) through another. The loops and the ECG are in each
        Recording's ``aux``; the artefact-free EEG is kept as
        ``truth[k].eeg_clean`` and the R peaks as ``truth[k].beats``. The
        artefacts come from their own random stream: everything else is the
        same as with False. Clean with
        :class:`~skeeg2bold.preprocessing.CWLRegression`.
    dtype : numpy dtype, default=numpy.float32
        Floating type of the EEG (float32 halves the memory; the EEG values
        are volts, float32 holds them to ~7 significant digits).
    random_state : int, numpy.random.RandomState or None, default=None
        Seed. Subject ``k`` depends only on the seed, ``k`` and the other
        arguments, not on ``n_subjects``.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the following attributes.

        recordings : list of Recording
            One per subject (``"sub-01"``, ...): EEG in volts, BOLD in
            percent signal change, volume onsets in the EEG clock.
        truth : list of Bunch
            Ground truth of each recording (see Notes).
        noise_ceiling : ndarray of shape (n_rois,)
            Pearson r between each ROI's BOLD and its oracle prediction, over
            all recordings (each demeaned): the best r any EEG-based
            predictor can reach, see :func:`ceiling_for`.
        noise_ceiling_differential : ndarray of shape (n_rois,)
            The same for each ROI minus the mean of the 14 (the paper's
            differential targets).
        noise_ceiling_common_mode : float
            The same for the mean of the 14 ROIs (the common mode).
        design_ceiling : ndarray of shape (n_rois,)
            Expected ceiling of each ROI from the variance budget,
            ``sqrt((1 - invisible_r) * snr / (1 + snr))``.
        roi_names, ch_names, source_names, band_names, feature_names : list of str
            Names of the ROIs (BOLD columns), EEG channels, rhythmic
            sources, frequency bands and EEG-visible latent processes.
        params : dict
            The arguments used (``random_state`` as given).

    Notes
    -----
    Each ``truth[k]`` holds, on the 10 Hz latent grid ``latent_times``
    (seconds, starting 40 s before the EEG so that the BOLD at the first
    volume has its full haemodynamic history):

    - ``latents``, shape ``(n_latent_times, n_features)``: the EEG-visible
      latent processes (``feature_names``);
    - ``envelopes``, shape ``(n_latent_times, n_sources, n_bands)``:
      amplitude (nAm) of every source's band oscillation;
    - ``drive`` and ``drive_visible``, shape ``(n_latent_times, n_rois)``:
      the neural drive of each ROI and its EEG-visible part;

    and at the volumes: ``bold_clean`` (noise-free BOLD, the neural part),
    ``oracle`` (the haemodynamic response to the visible drive, which is
    ``E[BOLD | every latent process the EEG reflects]``), both of shape
    ``(n_volumes, n_rois)``; plus ``hrf_peak`` (s, per ROI), ``coupling``
    (the subject's ROI x feature weights), ``invisible`` (per ROI),
    ``gain`` (the leadfield, V/(A m), channels x sources), ``iaf`` (alpha
    peak, Hz), ``heart_rate`` (beats/min) and ``deep`` (which sources are
    deep); and ``sources``, shape
    ``(n_sources, n_source_times)``: the time course (nAm) of every rhythmic
    source, at ``sources_sfreq`` Hz (the EEG rate divided by an integer,
    about 200 Hz) from the EEG's first sample, the signals that the leadfield
    mixes into the scalp EEG (:func:`source_recordings` makes recordings of
    them, the input of the unmixing oracle).

    Examples
    --------
    >>> from skeeg2bold.datasets import simulate_eeg_fmri
    >>> sim = simulate_eeg_fmri(n_subjects=2, duration=60.0, sfreq=100.0,
    ...                         random_state=0)
    >>> rec = sim.recordings[0]
    >>> rec.eeg.shape, rec.bold.shape[1], rec.sfreq
    ((30, 6000), 14, 100.0)
    >>> sim.roi_names[0], rec.ch_names[-1]
    ('Left Thalamus', 'POz')
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
    invisible_fraction = check_positive(invisible_fraction, "invisible_fraction", allow_zero=True)
    if invisible_fraction > 0.85:
        raise ValueError(f"invisible_fraction must be in [0, 0.85], got {invisible_fraction}.")
    subject_variability = check_positive(
        subject_variability, "subject_variability", allow_zero=True
    )
    eeg_noise = check_positive(eeg_noise, "eeg_noise", allow_zero=True)
    validate_type(artifacts, (bool, np.bool_), "artifacts", "bool")
    validate_type(scanner_artifacts, (bool, np.bool_), "scanner_artifacts", "bool")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}.")
    check_memory(
        _memory_estimate(n_subjects, duration, sfreq, dtype),
        f"simulate_eeg_fmri(n_subjects={n_subjects}, duration={duration:g}, "
        f"sfreq={sfreq:g}, dtype={dtype.name})",
        "Simulate fewer or shorter runs, at a lower sfreq or in float32.",
    )
    params = dict(
        n_subjects=n_subjects,
        duration=duration,
        sfreq=sfreq,
        tr=tr,
        snr=snr,
        invisible_fraction=invisible_fraction,
        subject_variability=subject_variability,
        eeg_noise=eeg_noise,
        artifacts=artifacts,
        scanner_artifacts=scanner_artifacts,
        dtype=dtype.name,
        random_state=random_state,
    )

    # Independent streams keyed by (0,) for the group and (1, k) for subject
    # k, so that subject k is the same whatever n_subjects.
    entropy = int(check_random_state(random_state).randint(0, 2**31 - 1))
    group = _group_model(_stream(entropy, 0), invisible_fraction)
    recordings, truth = [], []
    for k in range(n_subjects):
        rec, gt = _simulate_subject(
            _stream(entropy, 1, k),
            f"sub-{k + 1:02d}",
            group,
            duration=duration,
            sfreq=sfreq,
            tr=tr,
            snr=snr,
            subject_variability=subject_variability,
            eeg_noise=eeg_noise,
            artifacts=artifacts,
            dtype=dtype,
            scanner_rng=_stream(entropy, 2, k) if scanner_artifacts else None,
        )
        recordings.append(rec)
        truth.append(gt)

    sim = Bunch(
        recordings=recordings,
        truth=truth,
        roi_names=list(ROI_NAMES),
        ch_names=list(CWL_CH_NAMES),
        source_names=list(_SOURCE_NAMES),
        band_names=list(BAND_NAMES),
        feature_names=list(FEATURE_NAMES),
        design_ceiling=np.sqrt((1.0 - group["invisible"]) * snr / (1.0 + snr)),
        params=params,
    )
    n_rois = len(ROI_NAMES)
    sim.noise_ceiling = ceiling_for(sim)
    sim.noise_ceiling_differential = ceiling_for(sim, np.eye(n_rois) - 1.0 / n_rois)
    sim.noise_ceiling_common_mode = float(ceiling_for(sim, np.full((n_rois, 1), 1.0 / n_rois))[0])
    return sim


def ceiling_for(simulation, transform=None, *, subjects=None, tmin=None, tmax=None):
    """Noise ceiling of any linear transform of the ROI BOLD.

    For a target ``y = T(BOLD)`` the best Pearson r that any function of the
    EEG can reach is ``corr(y, E[y | EEG])``; the simulator knows
    ``E[BOLD | latents the EEG reflects]`` (its ``oracle``), and for a linear
    ``T`` the expectation commutes with ``T``. This is an upper bound: it
    assumes the predictor recovers those latent processes perfectly, from
    the whole past of the EEG.

    Parameters
    ----------
    simulation : Bunch
        The output of :func:`simulate_eeg_fmri` or
        :func:`simulate_burst_eeg_fmri`.
    transform : ndarray of shape (n_rois, n_targets) or callable, default=None
        Matrix applied as ``BOLD @ transform``, or a linear (or affine)
        function mapping ``(n_volumes, n_rois)`` to ``(n_volumes,
        n_targets)``, e.g. a fitted target transformer's ``transform``.
        None: the ROIs themselves.
    subjects : list of str, default=None
        Recordings to pool (all if None).
    tmin, tmax : float, default=None
        Keep the volumes with onset in ``[tmin, tmax)`` seconds (e.g. the
        test part of a protocol); a recording with fewer than 3 such volumes
        is left out.

    Returns
    -------
    ceiling : ndarray of shape (n_targets,)
        Pearson r between the target and its oracle, over the pooled
        volumes (each recording's part demeaned first, so that offsets
        between recordings do not count as explained variance).

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.datasets import simulate_eeg_fmri, ceiling_for
    >>> sim = simulate_eeg_fmri(n_subjects=2, duration=60.0, sfreq=100.0,
    ...                         random_state=0)
    >>> common_mode = np.full((14, 1), 1 / 14)
    >>> ceiling_for(sim, common_mode).shape
    (1,)
    """
    from ..metrics import pearson_r

    if subjects is not None:
        known = [rec.subject for rec in simulation.recordings]
        missing = [s for s in subjects if s not in known]
        if missing:
            raise ValueError(f"subjects {missing} are not in the simulation; it has {known}.")
    if transform is None:
        apply = _identity
    elif callable(transform):
        apply = transform
    else:
        matrix = np.asarray(transform, dtype=float)
        n_rois = len(simulation.roi_names)
        if matrix.ndim != 2 or matrix.shape[0] != n_rois:
            raise ValueError(
                f"transform must be a matrix of shape (n_rois={n_rois}, n_targets), got "
                f"shape {matrix.shape}."
            )
        apply = matrix.__rmatmul__
    bold, oracle = [], []
    for rec, gt in zip(simulation.recordings, simulation.truth):
        if subjects is not None and rec.subject not in subjects:
            continue
        keep = np.ones(rec.n_volumes, dtype=bool)
        if tmin is not None:
            keep &= rec.volume_times >= tmin
        if tmax is not None:
            keep &= rec.volume_times < tmax
        if keep.sum() < 3:
            continue
        for out, values in ((bold, rec.bold), (oracle, gt.oracle)):
            y = np.asarray(apply(values[keep]), dtype=float)
            y = y[:, None] if y.ndim == 1 else y
            out.append(y - y.mean(axis=0))
    if not bold:
        raise ValueError(
            f"no recording has 3 or more volumes in [tmin={tmin}, tmax={tmax}) for "
            f"subjects={subjects}."
        )
    return pearson_r(np.vstack(bold), np.vstack(oracle))


def source_recordings(simulation, *, deep=True):
    """Recordings of the true source time courses: perfectly unmixed EEG.

    Each simulated recording with its EEG replaced by the time courses of
    the rhythmic sources that the leadfield mixes into the scalp (the
    ``sources`` of its ground truth, one "channel" per source, in nAm), and
    the same BOLD and volume onsets. Windows of these recordings
    (:func:`~skeeg2bold.make_windows`, same arguments as for the EEG) line up
    with the EEG's windows; a model fitted on them is the **unmixing
    oracle**: what the same features would score if spatial unmixing were
    perfect. The gap between a model on EEG and the same model on sources is
    what unmixing can still gain; the gap between the oracle and the noise
    ceiling is what remains of background activity, envelope estimation and
    the model itself.

    With ``deep=False`` only the cortical sources are kept: the oracle of a
    model that unmixes every cortical source perfectly but, like any
    cross-subject spatial filter, cannot find the deep (thalamic,
    mesiotemporal) ones, whose dipoles point in a different direction in
    every subject. Between the two oracles lies what only recovering the
    deep sources' power could gain. Which sources are deep is read from each
    ground truth (``truth[k].deep``), so both simulator families work.

    Parameters
    ----------
    simulation : Bunch
        The output of :func:`simulate_eeg_fmri` or
        :func:`simulate_burst_eeg_fmri`.
    deep : bool, default=True
        Keep the deep sources.

    Returns
    -------
    recordings : list of Recording
        Channels named after ``simulation.source_names``, sampled at the
        sources' rate (the EEG rate divided by an integer, about 200 Hz).

    Examples
    --------
    >>> from skeeg2bold import make_windows
    >>> from skeeg2bold.datasets import simulate_eeg_fmri, source_recordings
    >>> sim = simulate_eeg_fmri(n_subjects=1, duration=60.0, sfreq=100.0,
    ...                         random_state=0)
    >>> rec = source_recordings(sim)[0]
    >>> rec.eeg.shape[0], rec.ch_names[0]
    (14, 'occipital-L')
    >>> source_recordings(sim, deep=False)[0].eeg.shape[0]
    10
    """
    validate_type(deep, bool, "deep")
    out = []
    for rec, gt in zip(simulation.recordings, simulation.truth):
        # Each ground truth says which of its sources are deep, so that this
        # works on every simulator family.
        keep = np.ones(len(simulation.source_names), dtype=bool) if deep else ~gt.deep
        out.append(
            Recording(
                gt.sources[keep],
                rec.bold,
                rec.volume_times,
                sfreq=gt.sources_sfreq,
                ch_names=[name for name, k in zip(simulation.source_names, keep) if k],
                roi_names=list(rec.roi_names),
                subject=rec.subject,
            )
        )
    return out


def _identity(values):
    return values


def _memory_estimate(n_subjects, duration, sfreq, dtype):
    """Bytes the simulation holds at its peak: every subject's EEG, plus the
    float64 sources, background and their spectra of the subject being made."""
    from ._head import N_BACKGROUND

    n_times = duration * sfreq
    n_channels, n_dipoles = len(CWL_CH_NAMES), len(SOURCES) + N_BACKGROUND
    kept = n_subjects * n_channels * n_times * dtype.itemsize
    working = 8 * (3 * n_dipoles + 3 * n_channels) * n_times
    return int(kept + working)


def _stream(entropy, *key):
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


# -- group and subject models ----------------------------------------------


def _group_model(rng, invisible_fraction):
    """What subjects share: coupling weights, HRF peaks, invisible fractions."""
    n_feat = len(FEATURE_NAMES)
    coupling = np.zeros((len(ROI_NAMES), n_feat))
    invisible = np.zeros(len(ROI_NAMES))
    for r, roi in enumerate(ROI_NAMES):
        side, structure = roi.split(" ", 1)
        ipsi = "left" if side == "Left" else "right"
        for name, weight in _COUPLING[structure].items():
            if name.startswith("ipsi "):
                name = f"{ipsi} {name[5:]}"
            coupling[r, FEATURE_NAMES.index(name)] = weight
        invisible[r] = invisible_fraction + _INVISIBLE_OFFSET[structure]
    # A random part on top of the designed one, so that the structure a
    # method must learn is not the table above.
    coupling += 0.1 * rng.standard_normal(coupling.shape)
    return {
        "coupling": coupling,
        "invisible": np.clip(invisible, 0.0, 0.95),
        "hrf_peak": rng.uniform(4.5, 6.0, size=len(ROI_NAMES)),
        "global_gain": rng.uniform(0.8, 1.2, size=len(ROI_NAMES)),
    }


def _simulate_subject(
    rng,
    subject,
    group,
    *,
    duration,
    sfreq,
    tr,
    snr,
    subject_variability,
    eeg_noise,
    artifacts,
    dtype,
    scanner_rng=None,
):
    """One subject's Recording and ground truth, from its own random stream."""
    n_rois = len(ROI_NAMES)
    head = subject_head(rng)
    iaf = float(np.clip(rng.normal(10.0, 0.8), 8.5, 12.0))
    coupling = group["coupling"] + subject_variability * np.sqrt(
        np.mean(group["coupling"] ** 2)
    ) * rng.standard_normal(group["coupling"].shape)
    hrf_peak = np.clip(group["hrf_peak"] + 0.4 * rng.standard_normal(n_rois), 4.0, 7.0)

    # Slow processes on the latent grid, from -_BURN_IN to the end.
    n_lat = int(np.ceil((duration + _BURN_IN) * LATENT_SFREQ)) + 1
    latent_times = np.arange(n_lat) / LATENT_SFREQ - _BURN_IN
    latents = slow_processes(rng, len(FEATURE_NAMES), n_lat)
    envelopes = _envelopes(rng, latents, iaf)
    rho = group["invisible"]
    drive_visible, drive = _drives(rng, latents, coupling, rho)

    volume_times = volume_onsets(rng, duration, tr)
    hrfs = np.column_stack([hrf(p) for p in hrf_peak])
    neural = sample(convolve_hrf(drive, hrfs), latent_times, volume_times)
    oracle = sample(convolve_hrf(drive_visible, hrfs), latent_times, volume_times)
    scale = neural.std(axis=0)
    noise = bold_noise(rng, group["global_gain"], latent_times, volume_times)
    signal_sd = np.sqrt(snr / (1.0 + snr)) * BOLD_SD_PERCENT
    noise_sd = np.sqrt(1.0 / (1.0 + snr)) * BOLD_SD_PERCENT
    bold_clean = signal_sd * neural / scale
    oracle = signal_sd * oracle / scale
    bold = bold_clean + noise_sd * noise

    eeg, heart_rate, sources, sources_sfreq = scalp_eeg(
        rng,
        head,
        envelopes,
        latent_times,
        iaf,
        duration=duration,
        sfreq=sfreq,
        eeg_noise=eeg_noise,
        artifacts=artifacts,
        dtype=dtype,
    )
    aux, scanner_truth = None, {}
    if scanner_rng is not None:
        eeg, aux, scanner_truth = add_scanner_artifacts(scanner_rng, head, eeg, sfreq, heart_rate)
    rec = Recording(
        eeg,
        bold,
        volume_times,
        sfreq=sfreq,
        ch_names=list(CWL_CH_NAMES),
        roi_names=list(ROI_NAMES),
        subject=subject,
        montage=MONTAGE,
        aux=aux,
    )
    truth = Bunch(
        subject=subject,
        latent_times=latent_times,
        latents=latents,
        envelopes=envelopes,
        drive=drive,
        drive_visible=drive_visible,
        bold_clean=bold_clean,
        oracle=oracle,
        hrf_peak=hrf_peak,
        coupling=coupling,
        invisible=rho.copy(),
        gain=head["gain"],
        iaf=iaf,
        heart_rate=heart_rate,
        sources=sources,
        sources_sfreq=sources_sfreq,
        deep=np.array([s[2] for s in SOURCES]),
        **scanner_truth,
    )
    return rec, truth


def _envelopes(rng, latents, iaf):
    """Amplitude (nAm) of every band component, (n_latent_times, n_sources, n_bands)."""
    n_lat = latents.shape[0]
    n_src, n_bands = len(SOURCES), len(BAND_NAMES)
    loading = _loading_matrix()  # (n_src, n_bands, n_feat)
    # The rest of each log-envelope is a nuisance unrelated to the BOLD, with
    # the 1/f spectrum of band-power fluctuations up to ~0.5 Hz: at the slow
    # time scales of the BOLD the EEG-visible latents dominate.
    nuisance = np.sqrt(np.clip(1.0 - (loading**2).sum(axis=-1), 0.1, None))
    log_env = _ENVELOPE_SD * (
        np.einsum("kbj,tj->tkb", loading, latents)
        + nuisance
        * slow_processes(rng, n_src * n_bands, n_lat, cutoff=0.5).reshape(n_lat, n_src, n_bands)
    )
    # Mean amplitude of every band component, with individual variation.
    amplitude = band_amplitudes(iaf) * np.exp(0.2 * rng.standard_normal((n_src, n_bands)))
    return amplitude * np.exp(log_env)


def _drives(rng, latents, coupling, invisible):
    """EEG-visible part and total neural drive of each ROI, (n_latent_times, n_rois) each.

    The invisible part is shared across ROIs for half its variance: a network
    the EEG does not see.
    """
    n_lat, n_rois = latents.shape[0], coupling.shape[0]
    visible = standardize(latents @ coupling.T)
    hidden = standardize(
        np.sqrt(0.5) * slow_processes(rng, 1, n_lat)
        + np.sqrt(0.5) * slow_processes(rng, n_rois, n_lat)
    )
    drive_visible = np.sqrt(1.0 - invisible) * visible
    return drive_visible, drive_visible + np.sqrt(invisible) * hidden


def _loading_matrix():
    loading = np.zeros((len(SOURCES), len(BAND_NAMES), len(FEATURE_NAMES)))
    for j, (_, terms) in enumerate(_FEATURES):
        for source, band, weight in terms:
            loading[_SOURCE_NAMES.index(source), BAND_NAMES.index(band), j] = weight
    return loading
