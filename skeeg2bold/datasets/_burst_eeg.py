"""Source activity and scalp EEG of the burst simulator.

Every named source emits an aperiodic 1/f**beta background whose offset and
exponent drift with slow processes, plus transient oscillatory bursts
(theta, alpha, beta) whose onsets are an inhomogeneous Poisson process with a
time-varying rate. The scalp EEG is the forward model of those sources and of
random background patches, plus sensor noise and, optionally, muscle bursts,
electrode pops, electrode drifts and mains interference.
"""

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

from ._burst_head import BURST_SOURCES
from ._head import CWL_CH_NAMES
from ._signals import LATENT_SFREQ, colored_noise

__all__ = ["RHYTHMS", "RHYTHM_INDEX", "draw_bursts", "source_activity", "scalp_eeg_bursts"]

_NAMES = tuple(s[0] for s in BURST_SOURCES)

# Burst rhythms of each source: (source, band, centre Hz or "iaf" offset,
# frequency sd Hz, base rate per s, median duration s, median amplitude nAm).
# Alpha bursts last ~0.3-1 s, beta bursts ~0.1-0.3 s (Shin et al. 2017),
# theta bursts ~0.5-1.5 s; the deep sources' amplitudes stand for the part
# of their closed-field current that still forms an open dipole.
RHYTHMS = (
    ("occipital-L", "alpha", ("iaf", 0.0), 0.4, 0.9, 0.6, 70.0),
    ("occipital-R", "alpha", ("iaf", 0.0), 0.4, 0.9, 0.6, 70.0),
    ("parietal-M", "alpha", ("iaf", 0.0), 0.5, 0.6, 0.5, 50.0),
    ("sensorimotor-L", "alpha", ("iaf", 1.0), 0.5, 0.5, 0.4, 35.0),
    ("sensorimotor-R", "alpha", ("iaf", 1.0), 0.5, 0.5, 0.4, 35.0),
    ("sensorimotor-L", "beta", 20.0, 3.0, 1.2, 0.15, 40.0),
    ("sensorimotor-R", "beta", 20.0, 3.0, 1.2, 0.15, 40.0),
    ("frontal-M", "theta", 6.0, 0.7, 0.4, 0.8, 45.0),
    ("prefrontal-L", "theta", 6.0, 0.7, 0.2, 0.7, 30.0),
    ("prefrontal-R", "theta", 6.0, 0.7, 0.2, 0.7, 30.0),
    ("prefrontal-L", "beta", 22.0, 3.0, 0.6, 0.15, 30.0),
    ("prefrontal-R", "beta", 22.0, 3.0, 0.6, 0.15, 30.0),
    ("temporal-L", "alpha", ("iaf", -1.0), 0.6, 0.3, 0.5, 30.0),
    ("temporal-R", "alpha", ("iaf", -1.0), 0.6, 0.3, 0.5, 30.0),
    ("temporal-L", "theta", 6.5, 0.8, 0.3, 0.6, 30.0),
    ("temporal-R", "theta", 6.5, 0.8, 0.3, 0.6, 30.0),
    ("thalamus-L", "alpha", ("iaf", 0.0), 0.4, 0.8, 0.6, 90.0),
    ("thalamus-R", "alpha", ("iaf", 0.0), 0.4, 0.8, 0.6, 90.0),
    ("hippocampus-L", "theta", 6.0, 0.6, 0.7, 1.0, 90.0),
    ("hippocampus-R", "theta", 6.0, 0.6, 0.7, 1.0, 90.0),
    ("striatum-L", "beta", 18.0, 2.5, 1.0, 0.2, 70.0),
    ("striatum-R", "beta", 18.0, 2.5, 1.0, 0.2, 70.0),
)
#: (source, band) -> row of RHYTHMS.
RHYTHM_INDEX = {(r[0], r[1]): i for i, r in enumerate(RHYTHMS)}

# Aperiodic background of every named source: RMS (nAm) and how far its
# exponent is tilted by the two components (see ``source_activity``).
_APERIODIC_NAM = 30.0
_TILT = 0.75
# Rest-of-cortex background patches (nAm RMS each) and white sensor noise.
_BACKGROUND_NAM = 15.0
_SENSOR_NOISE = 0.12e-6  # V / sqrt(Hz)
_BURST_DTYPE = np.dtype(
    [
        ("source", np.int16),
        ("rhythm", np.int16),
        ("onset", float),
        ("duration", float),
        ("freq", float),
        ("amplitude", float),
    ]
)


def draw_bursts(rng, rate, latent_times, iaf, t_end):
    """Bursts of every rhythm: an inhomogeneous Poisson process per rhythm.

    Parameters
    ----------
    rng : numpy.random.Generator
    rate : ndarray of shape (n_latent_times, n_rhythms)
        Burst rate (per second) of every rhythm on the latent grid.
    latent_times : ndarray of shape (n_latent_times,)
    iaf : float
        Individual alpha frequency (Hz).
    t_end : float
        Bursts start in ``[-2, t_end)`` seconds.

    Returns
    -------
    bursts : structured ndarray
        Fields ``source``, ``rhythm`` (indices into the sources and
        RHYTHMS), ``onset`` and ``duration`` (s), ``freq`` (Hz) and
        ``amplitude`` (nAm), sorted by onset.
    """
    keep = (latent_times >= -2.0) & (latent_times < t_end)
    dt = 1.0 / LATENT_SFREQ
    counts = rng.poisson(rate[keep] * dt)  # (n_bins, n_rhythms)
    nonzero = np.nonzero(counts)
    bins = np.repeat(nonzero[0], counts[nonzero])
    rhythm = np.repeat(nonzero[1], counts[nonzero])
    n = rhythm.size
    out = np.empty(n, dtype=_BURST_DTYPE)
    table = RHYTHMS
    centre = np.array(
        [iaf + r[2][1] if isinstance(r[2], tuple) else r[2] for r in table], dtype=float
    )
    freq_sd = np.array([r[3] for r in table])
    dur = np.array([r[5] for r in table])
    amp = np.array([r[6] for r in table])
    out["source"] = [_NAMES.index(table[j][0]) for j in rhythm]
    out["rhythm"] = rhythm
    out["onset"] = latent_times[keep][bins] + dt * rng.uniform(0.0, 1.0, n)
    out["duration"] = np.clip(dur[rhythm] * np.exp(0.4 * rng.standard_normal(n)), 0.08, 3.0)
    out["freq"] = np.clip(centre[rhythm] + freq_sd[rhythm] * rng.standard_normal(n), 3.5, 35.0)
    out["amplitude"] = amp[rhythm] * np.exp(0.35 * rng.standard_normal(n))
    return np.sort(out, order="onset")


def source_activity(rng, bursts, offset, tilt, exponent, latent_times, n_times, fs):
    """Time courses (nAm) of the named sources: aperiodic background + bursts.

    The aperiodic part of source ``s`` is ``A exp(o_s(t)) (exp(e_s(t)) n_lo +
    exp(-e_s(t)) n_hi) / sqrt(2)``, with ``n_lo`` and ``n_hi`` unit-variance
    noises of spectra ``1/f**(beta_s +- 0.75)``: ``o`` moves the broadband
    offset, ``e`` tilts the spectrum (a steeper or flatter exponent). Each
    burst is a Hann-windowed cosine at its own frequency and random phase.

    Parameters
    ----------
    rng : numpy.random.Generator
    bursts : structured ndarray, from :func:`draw_bursts`
    offset, tilt : ndarray of shape (n_latent_times, n_sources)
        Log-amplitude offset and spectral tilt on the latent grid.
    exponent : ndarray of shape (n_sources,)
        Mean aperiodic exponent ``beta_s`` of every source.
    latent_times : ndarray of shape (n_latent_times,)
    n_times : int
    fs : float

    Returns
    -------
    sources : ndarray of shape (n_sources, n_times)
    """
    n_src = len(BURST_SOURCES)
    t = np.arange(n_times) / fs
    o = np.column_stack([np.interp(t, latent_times, c) for c in offset.T]).T
    e = np.column_stack([np.interp(t, latent_times, c) for c in tilt.T]).T
    sources = np.empty((n_src, n_times))
    for s in range(n_src):
        noise = [
            colored_noise(rng, 1, n_times, fs, lambda f, b=b: np.maximum(f, 0.5) ** -b)[0]
            for b in (exponent[s] + _TILT, exponent[s] - _TILT)
        ]
        sources[s] = (
            _APERIODIC_NAM
            * np.exp(o[s])
            * (np.exp(e[s]) * noise[0] + np.exp(-e[s]) * noise[1])
            / np.sqrt(2.0)
        )
    phase = rng.uniform(0.0, 2 * np.pi, bursts.size)
    for b, ph in zip(bursts, phase):
        start = int(round(b["onset"] * fs))
        length = max(2, int(round(b["duration"] * fs)))
        i0, i1 = max(start, 0), min(start + length, n_times)
        if i1 <= i0:
            continue
        tau = (np.arange(i0, i1) - start) / fs
        window = np.sin(np.pi * tau / b["duration"]) ** 2
        sources[b["source"], i0:i1] += (
            b["amplitude"] * window * np.cos(2 * np.pi * b["freq"] * tau + ph)
        )
    return sources


def scalp_eeg_bursts(
    rng, head, sources, background_offset, background_exponent, latent_times, *,
    sfreq, up, n_times, eeg_noise, artifacts, dtype,
):  # fmt: skip
    """Scalp EEG (V) of one subject from its sources, background and artefacts.

    Parameters
    ----------
    rng : numpy.random.Generator
    head : dict, from :func:`~._burst_head.burst_head`
    sources : ndarray of shape (n_sources, n_int)
        Named source time courses (nAm) at ``sfreq / up``.
    background_offset : ndarray of shape (n_latent_times,)
        Log-amplitude of the background patches.
    background_exponent : float
    latent_times : ndarray
    sfreq : float
    up : int
    n_times : int
    eeg_noise : float
    artifacts : bool
    dtype : numpy dtype

    Returns
    -------
    eeg : ndarray of shape (30, n_times)
    """
    n_int = sources.shape[1]
    fs = sfreq / up
    t = np.arange(n_int) / fs
    background = colored_noise(
        rng,
        head["gain_background"].shape[1],
        n_int,
        fs,
        lambda f: np.maximum(f, 0.5) ** -background_exponent,
    )
    background *= np.exp(np.interp(t, latent_times, background_offset))
    eeg = head["gain"] @ (sources * 1e-9)
    eeg += head["gain_background"] @ (background * (eeg_noise * _BACKGROUND_NAM * 1e-9))
    eeg = eeg.astype(dtype, copy=False)
    if up > 1:
        eeg = np.ascontiguousarray(resample_poly(eeg, up, 1, axis=1)[:, :n_times])
    if eeg_noise > 0:
        noise = rng.standard_normal(eeg.shape, dtype=np.float32)
        noise *= eeg_noise * _SENSOR_NOISE * np.sqrt(sfreq / 2.0)
        eeg += noise
        del noise
    if artifacts:
        _add_emg(rng, eeg, sfreq)
        _add_pops(rng, eeg, sfreq)
        _add_drifts(rng, eeg, sfreq)
        _add_line_noise(rng, eeg, sfreq)
    return eeg


_TEMPORAL = {
    "left": {"T7": 1.0, "TP9": 0.9, "F7": 0.7, "FC5": 0.4, "CP5": 0.4, "P7": 0.3},
    "right": {"T8": 1.0, "TP10": 0.9, "F8": 0.7, "FC6": 0.4, "CP6": 0.4, "P8": 0.3},
}


def _add_emg(rng, eeg, sfreq):
    """Muscle bursts (jaw, temporalis): >20 Hz noise at temporal channels, ~3 per minute."""
    n_times = eeg.shape[1]
    duration = n_times / sfreq
    sos = butter(4, min(20.0, 0.4 * sfreq) / (sfreq / 2), btype="highpass", output="sos")
    for _ in range(rng.poisson(duration / 20.0)):
        length = int(rng.uniform(0.5, 3.0) * sfreq)
        start = int(rng.uniform(0, max(n_times - length, 1)))
        seg = sosfilt(sos, rng.standard_normal(length))
        seg *= np.sin(np.pi * np.arange(length) / length) ** 2
        seg *= rng.uniform(8e-6, 30e-6) / seg.std()
        sides = [("left", "right")[rng.integers(2)]] if rng.uniform() < 0.6 else ["left", "right"]
        for side in sides:
            for ch, w in _TEMPORAL[side].items():
                c = CWL_CH_NAMES.index(ch)
                stop = min(start + length, n_times)
                eeg[c, start:stop] += (w * seg[: stop - start]).astype(eeg.dtype)


def _add_pops(rng, eeg, sfreq):
    """Electrode pops: a step of 50-200 uV at one channel, decaying in 0.3-2 s, ~1 per minute."""
    n_times = eeg.shape[1]
    for _ in range(rng.poisson(n_times / sfreq / 60.0)):
        c = rng.integers(eeg.shape[0])
        start = int(rng.uniform(0, n_times))
        tau = rng.uniform(0.3, 2.0)
        length = min(int(6 * tau * sfreq), n_times - start)
        step = rng.choice([-1.0, 1.0]) * rng.uniform(50e-6, 200e-6)
        eeg[c, start : start + length] += (
            step * np.exp(-np.arange(length) / (tau * sfreq))
        ).astype(eeg.dtype)


def _add_drifts(rng, eeg, sfreq):
    """Electrode drift: a per-channel random walk (~20 uV over a minute)."""
    n_times = eeg.shape[1]
    grid = np.arange(0.0, n_times / sfreq + 1.0, 1.0)
    walk = np.cumsum(rng.standard_normal((eeg.shape[0], grid.size)), axis=1) * 2.5e-6
    t = np.arange(n_times) / sfreq
    for channel, w in zip(eeg, walk):
        channel += np.interp(t, grid, w - w.mean()).astype(eeg.dtype)


def _add_line_noise(rng, eeg, sfreq):
    """Mains interference: 50 Hz, 0.5-3 uV per channel (when below Nyquist)."""
    if sfreq / 2 <= 50.0:
        return
    t = np.arange(eeg.shape[1]) / sfreq
    wave = np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 2 * np.pi))
    for channel, a in zip(eeg, rng.uniform(0.5e-6, 3e-6, eeg.shape[0])):
        channel += (a * wave).astype(eeg.dtype)
