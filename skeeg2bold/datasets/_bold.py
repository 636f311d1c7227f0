"""Haemodynamics, volume timing and non-neural noise of the simulated BOLD."""

import numpy as np
from scipy.signal import oaconvolve

from ._signals import LATENT_SFREQ, sample, slow_processes, standardize

__all__ = ["BOLD_SD_PERCENT", "hrf", "convolve_hrf", "volume_onsets", "bold_noise"]

# Noise of the BOLD: its parts, as variance fractions.
_BOLD_NOISE_PARTS = {"global": 0.3, "physiological": 0.25, "thermal": 0.25, "drift": 0.2}
#: Standard deviation of the simulated BOLD, in percent signal change.
BOLD_SD_PERCENT = 0.8


def hrf(peak):
    """SPM canonical HRF (nilearn) shifted so that it peaks at ``peak`` seconds."""
    from nilearn.glm.first_level import spm_hrf

    # The canonical response peaks at 5 s; nilearn's onset moves it.
    return spm_hrf(1.0 / LATENT_SFREQ, oversampling=1, time_length=32.0, onset=peak - 5.0)


def convolve_hrf(drive, hrfs):
    """Causal convolution of each column of ``drive`` with its HRF."""
    return oaconvolve(drive, hrfs, axes=0, mode="full")[: drive.shape[0]]


def volume_onsets(rng, duration, tr):
    """Onsets with a constant TR and marker jitter, the first one at 0.5-2 s."""
    first = rng.uniform(0.5, 2.0)
    n = int(np.floor((duration - first) / tr))
    return first + tr * np.arange(n) + 0.002 * rng.standard_normal(n)


def bold_noise(rng, global_gain, latent_times, volume_times):
    """Non-neural BOLD noise at the volumes, unit variance per ROI.

    Parameters
    ----------
    rng : numpy.random.Generator
    global_gain : ndarray of shape (n_rois,)
        Gain of each ROI on the global fluctuation.
    latent_times : ndarray of shape (n_latent_times,)
    volume_times : ndarray of shape (n_volumes,)

    Returns
    -------
    noise : ndarray of shape (n_volumes, n_rois)
    """
    n_rois = global_gain.size
    n_lat = latent_times.size
    glob = slow_processes(rng, 1, n_lat) * global_gain
    # Respiration (~0.3 Hz) and cardiac (~1.1 Hz) pulsations with slowly
    # varying amplitude, aliased by the sampling at the volumes, shared by
    # all ROIs with ROI-specific gains. Their timing is independent of the
    # ballistocardiogram in the EEG, so they are not EEG-predictable here.
    t = latent_times
    resp_f, card_f = rng.uniform(0.22, 0.35), rng.uniform(0.9, 1.3)
    slow = 1.0 + 0.3 * slow_processes(rng, 2, n_lat)
    phys_shared = slow[:, 0] * np.sin(2 * np.pi * resp_f * t + rng.uniform(0, 2 * np.pi)) + slow[
        :, 1
    ] * np.sin(2 * np.pi * card_f * t + rng.uniform(0, 2 * np.pi))
    phys = phys_shared[:, None] * rng.uniform(0.5, 1.5, n_rois) + 0.5 * slow_processes(
        rng, n_rois, n_lat
    )
    # Scanner drift: a few cosines with periods longer than 100 s.
    span = t[-1] - t[0]
    k = np.arange(1, 4)
    basis = np.cos(np.pi * np.outer(t - t[0], k) / span) / k
    drift = basis @ rng.standard_normal((k.size, n_rois))
    parts = {
        "global": sample(glob, t, volume_times),
        "physiological": sample(phys, t, volume_times),
        "thermal": rng.standard_normal((volume_times.size, n_rois)),
        "drift": sample(drift, t, volume_times),
    }
    noise = sum(np.sqrt(w) * standardize(parts[name]) for name, w in _BOLD_NOISE_PARTS.items())
    return standardize(noise)
