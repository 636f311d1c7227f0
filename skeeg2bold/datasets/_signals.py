"""Random signals of the simulator: coloured Gaussian noise and slow processes."""

import numpy as np

__all__ = ["LATENT_SFREQ", "colored_noise", "slow_processes", "standardize", "sample"]

#: Rate (Hz) of the latent grid of the slow processes and the haemodynamics:
#: far above their < 0.1 Hz content, far below the EEG rate.
LATENT_SFREQ = 10.0


def colored_noise(rng, n_series, n_times, sfreq, psd):
    """Gaussian series with power spectral density shape ``psd(f)``, unit variance.

    Synthesised in the frequency domain (one inverse FFT per series): exact
    spectra without filter transients, and random numbers drawn only where
    the spectrum is not negligible (a band covers a few % of the axis).
    ``psd(freqs)`` may return one spectrum or one per series.
    """
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    amp = np.broadcast_to(np.sqrt(psd(freqs)), (n_series, freqs.size))
    support = np.flatnonzero(amp.max(axis=0) > 1e-4 * amp.max())
    support = support[support > 0]  # no DC
    coef = np.zeros((n_series, freqs.size), dtype=complex)
    coef[:, support] = amp[:, support] * (
        rng.standard_normal((n_series, support.size))
        + 1j * rng.standard_normal((n_series, support.size))
    )
    series = np.fft.irfft(coef, n=n_times, axis=-1)
    return standardize(series.T).T


def slow_processes(rng, n_series, n_times, cutoff=0.05):
    """1/f-like processes, as columns of shape (n_times, n_series).

    Power ~ 1/(f + 0.005) up to a roll-off at ``cutoff`` Hz. The default
    0.05 Hz keeps the BOLD-relevant fluctuations far below 0.1 Hz, where
    resting-state BOLD concentrates its power.
    """

    def psd(f):
        return 1.0 / (f + 0.005) / (1.0 + (f / cutoff) ** 4)

    return colored_noise(rng, n_series, n_times, LATENT_SFREQ, psd).T


def standardize(x):
    """Columns of ``x`` with zero mean and unit variance."""
    x = x - x.mean(axis=0)
    return x / x.std(axis=0)


def sample(x, times, at):
    """Linear interpolation of the columns of ``x`` (on ``times``) at ``at``."""
    return np.column_stack([np.interp(at, times, col) for col in x.T])
