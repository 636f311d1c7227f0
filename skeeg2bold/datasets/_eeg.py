"""Scalp EEG of the simulator: source rhythms, background, noise and artifacts."""

import numpy as np
from scipy.signal import oaconvolve, resample_poly

from .._constants import BAND_EDGES, BAND_NAMES
from ._head import SOURCES
from ._signals import LATENT_SFREQ, colored_noise

__all__ = ["band_amplitudes", "scalp_eeg"]

_BAND_EDGES = np.array(BAND_EDGES)  # the bands tile 1-45 Hz
# Aperiodic exponent of every rhythmic source's spectrum (before its peaks).
_SOURCE_EXPONENT = 1.5
# The rhythms are synthesised at about this rate (above twice the 45 Hz gamma
# edge, the EEG rate divided by an integer) and upsampled once, on the 30
# channels, to the EEG rate.
_RHYTHM_SFREQ = 200.0
# Amplitude (nAm per dipole) of the aperiodic background; its power falls as
# 1/f**_BACKGROUND_EXPONENT (the EEG aperiodic exponent is typically 1-2).
_BACKGROUND_NAM = 35.0
_BACKGROUND_EXPONENT = 1.6
_SENSOR_NOISE = 0.15e-6  # V / sqrt(Hz), white


def _band_tiles(freqs):
    """Weights of shape (n_bands, n_freqs) that split the axis into the bands.

    Linear cross-fades (2 Hz wide, 1 Hz at the 1 Hz edge) make them sum to
    one inside 1-45 Hz: equal band amplitudes give a smooth 1/f spectrum with
    no holes at the band edges. Gamma fades out slowly above 45 Hz (20 Hz
    wide), as EEG power does.
    """
    half = np.array([0.5, 1.0, 1.0, 1.0, 1.0, 10.0])[:, None]
    step = np.clip(0.5 + (freqs[None, :] - _BAND_EDGES[:, None]) / (2 * half), 0.0, 1.0)
    return step[:-1] - step[1:]


def _source_spectra(freqs, iaf):
    """Power spectral density (nAm^2/Hz) of every source's band components.

    Returns an array of shape (n_sources, n_bands, n_freqs): the source's
    1/f**1.5 floor split into the bands, plus its Gaussian spectral peaks.
    """
    floor = (np.maximum(freqs, 0.5) / 10.0) ** -_SOURCE_EXPONENT
    tiles = _band_tiles(freqs) * floor
    psd = np.empty((len(SOURCES), len(BAND_NAMES), freqs.size))
    for k, (_, _, _, density, peaks) in enumerate(SOURCES):
        psd[k] = tiles
        for band, centre, width, height in peaks:
            centre = iaf if centre == "iaf" else centre
            psd[k, BAND_NAMES.index(band)] += height * np.exp(
                -0.5 * ((freqs - centre) / width) ** 2
            )
        psd[k] *= density**2
    return psd


def band_amplitudes(iaf):
    """RMS amplitude (nAm) of every source's band components, (n_sources, n_bands)."""
    freqs = np.arange(0.0, 60.0, 0.02)
    return np.sqrt(_source_spectra(freqs, iaf).sum(axis=-1) * 0.02)


def scalp_eeg(
    rng, head, envelopes, latent_times, iaf, *, duration, sfreq, eeg_noise, artifacts, dtype
):
    """Scalp EEG of one subject.

    Parameters
    ----------
    rng : numpy.random.Generator
    head : dict
        The subject's forward model, from :func:`~._head.subject_head`.
    envelopes : ndarray of shape (n_latent_times, n_sources, n_bands)
        Amplitude (nAm) of every band component on the latent grid.
    latent_times : ndarray of shape (n_latent_times,)
    iaf : float
        Individual alpha frequency (Hz).
    duration, sfreq : float
    eeg_noise : float
        Scale of the background and sensor noise.
    artifacts : bool
    dtype : numpy dtype

    Returns
    -------
    eeg : ndarray of shape (30, n_times)
        In volts.
    heart_rate : float
        Beats per minute of the ballistocardiogram.
    sources : ndarray of shape (n_sources, n_rhythm_times)
        Time course (nAm, float32) of every rhythmic source, all bands
        summed, at ``sources_sfreq``.
    sources_sfreq : float
        Rate of ``sources``: the EEG rate divided by an integer, about 200 Hz.
    """
    n_times = int(round(duration * sfreq))
    # Rhythms are made at sfreq / up (about 200 Hz) and upsampled once on the
    # channels: a 5x saving at 1000 Hz for content that stops at 45 Hz.
    up = max(1, int(sfreq // _RHYTHM_SFREQ))
    fs = sfreq / up
    n_int = -(-n_times // up)
    t_int = np.arange(n_int) / fs
    pos = (t_int - latent_times[0]) * LATENT_SFREQ
    i0 = np.minimum(pos.astype(np.intp), latent_times.size - 2)
    w = (pos - i0)[None, :]
    n_src = len(SOURCES)
    sources = np.zeros((n_src, n_int))
    spectra = _source_spectra(np.fft.rfftfreq(n_int, 1.0 / fs), iaf)
    for b in range(len(BAND_NAMES)):
        env = envelopes[:, :, b].T  # (n_src, n_latent_times)
        env_fast = env[:, i0] * (1.0 - w) + env[:, i0 + 1] * w
        sources += env_fast * colored_noise(rng, n_src, n_int, fs, lambda f, b=b: spectra[:, b])
    background = colored_noise(
        rng,
        head["gain_background"].shape[1],
        n_int,
        fs,
        lambda f: 1.0 / np.maximum(f, 0.5) ** _BACKGROUND_EXPONENT,
    )
    eeg = head["gain"] @ (sources * 1e-9)
    eeg += head["gain_background"] @ (background * (eeg_noise * _BACKGROUND_NAM * 1e-9))
    # From here on arrays have the output's size: work in its dtype, in place.
    eeg = eeg.astype(dtype, copy=False)
    if up > 1:
        # resample_poly returns a strided view; rows must be contiguous for
        # the zero-copy windows built on them.
        eeg = np.ascontiguousarray(resample_poly(eeg, up, 1, axis=1)[:, :n_times])
    if eeg_noise > 0:
        noise = rng.standard_normal(eeg.shape, dtype=np.float32)
        noise *= eeg_noise * _SENSOR_NOISE * np.sqrt(sfreq / 2.0)
        eeg += noise
        del noise
    heart_rate = float(rng.uniform(55.0, 80.0))
    if artifacts:
        _add_blinks(rng, eeg, head, sfreq)
        _add_ballistocardiogram(rng, eeg, head, sfreq, heart_rate)
    return eeg, heart_rate, sources.astype(np.float32), fs


def _add_events(eeg, topography, onsets, amplitudes, template):
    """Add ``template`` at ``onsets`` (samples) with a fixed scalp topography, in place."""
    train = np.zeros(eeg.shape[1])
    onsets = onsets[onsets < eeg.shape[1]]
    np.add.at(train, onsets, amplitudes[: onsets.size])
    wave = oaconvolve(train, template)[: eeg.shape[1]].astype(eeg.dtype)
    for channel, weight in zip(eeg, topography):  # no (n_channels, n_times) temporary
        channel += weight * wave


def _add_blinks(rng, eeg, head, sfreq):
    """Eye blinks: ~15 per minute, 80-150 uV at Fp1/Fp2, falling off backwards."""
    duration = eeg.shape[1] / sfreq
    n = rng.poisson(0.25 * duration)
    onsets = np.sort((rng.uniform(0, duration, n) * sfreq).astype(np.intp))
    amplitudes = rng.uniform(80e-6, 150e-6, n)
    t = np.arange(int(0.4 * sfreq)) / (0.4 * sfreq)
    template = np.sin(np.pi * t) ** 2 * np.exp(-1.5 * t)
    template /= template.max()
    eyes = head["r0"] + head["radius"] * np.array([[-0.33, 0.92, -0.22], [0.33, 0.92, -0.22]])
    dist = np.linalg.norm(head["ch_pos"][:, None, :] - eyes[None], axis=-1).min(axis=1)
    topography = np.exp(-(dist - dist.min()) / 0.03)
    _add_events(eeg, topography, onsets, amplitudes, template)


def _add_ballistocardiogram(rng, eeg, head, sfreq, heart_rate):
    """Residual pulse artifact after gradient/BCG correction: 5-15 uV, every heartbeat."""
    duration = eeg.shape[1] / sfreq
    rr = 60.0 / heart_rate
    n = int(duration / rr) + 2
    beats = rng.uniform(0, rr) + np.cumsum(rr * (1.0 + 0.05 * rng.standard_normal(n)))
    onsets = (beats * sfreq).astype(np.intp)
    amplitudes = rng.uniform(0.9, 1.1, n)
    t = np.arange(int(0.6 * sfreq)) / sfreq
    template = (
        np.exp(-0.5 * ((t - 0.20) / 0.03) ** 2)
        - 0.6 * np.exp(-0.5 * ((t - 0.30) / 0.05) ** 2)
        + 0.3 * np.exp(-0.5 * ((t - 0.45) / 0.06) ** 2)
    )
    # A smooth, subject-specific field: the pattern of a few background
    # dipoles, scaled to a 5-15 uV peak.
    topography = head["gain_background"] @ rng.standard_normal(head["gain_background"].shape[1])
    topography *= rng.uniform(5e-6, 15e-6) / np.abs(topography).max()
    _add_events(eeg, topography, onsets, amplitudes, template)
