"""Signals and helpers shared by several test modules.

Fixtures built from them live in ``conftest.py``; test modules import the
plain functions from here (``tests/`` is on ``sys.path`` under pytest).
"""

import numpy as np
from scipy.signal import butter, sosfiltfilt

from skeeg2bold import Recording

TOY_SFREQ = 50.0
TOY_CH_NAMES = ["Fz", "Cz", "Pz", "C3", "C4", "O1", "O2", "F3"]


def column_corr(a, b):
    """Pearson r of each column of ``a`` with the same column of ``b``.

    Computed with ``np.corrcoef``, independently of the package's ``pearson_r``.
    """
    return np.array([np.corrcoef(a[:, k], b[:, k])[0, 1] for k in range(a.shape[1])])


def am_signals(n_channels, n_times, sfreq=100.0, seed=0):
    """Noise plus an alpha rhythm whose amplitude follows a slow sine."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    modulation = 1.0 + 0.6 * np.sin(2 * np.pi * 0.05 * t + rng.uniform(0, 6, (n_channels, 1)))
    return 0.3 * rng.standard_normal((n_channels, n_times)) + 2.0 * modulation * np.sin(
        2 * np.pi * 10.0 * t
    )


def toy_recordings(n_subjects=2, duration=120.0, seed=0):
    """EEG whose 10 Hz source amplitude drives two BOLD-like targets."""
    rng = np.random.default_rng(seed)
    n = int(duration * TOY_SFREQ)
    t = np.arange(n) / TOY_SFREQ
    pattern = np.linspace(1.0, -0.5, len(TOY_CH_NAMES))
    sos = butter(2, 0.1, fs=TOY_SFREQ, output="sos")
    recordings = []
    for s in range(n_subjects):
        amp = np.exp(sosfiltfilt(sos, rng.standard_normal(n)) * 8)
        source = amp * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6))
        eeg = np.outer(pattern, source) + 0.5 * rng.standard_normal((len(TOY_CH_NAMES), n))
        volume_times = np.arange(2.0, duration, 1.0)
        drive = np.interp(volume_times, t, amp)
        bold = np.column_stack(
            [drive, -drive + 0.3 * drive.std() * rng.standard_normal(drive.size)]
        )
        recordings.append(
            Recording(
                eeg * 1e-5,
                bold,
                volume_times,
                sfreq=TOY_SFREQ,
                ch_names=TOY_CH_NAMES,
                subject=f"sub-{s}",
                montage="colin27_1020",
            )
        )
    return recordings


#: Window length (s) of the ``small_sim_windows`` fixture.
SMALL_SIM_WINDOW = 4.0


def source_power_recordings(seed, n_subjects, duration, n_chans, n_noise, first_onset):
    """Recordings whose BOLD-like target is the log power of one mixed alpha source.

    Each subject: a 10 Hz source whose power steps every 2 s (log-normal),
    mixed with ``n_noise`` white-noise sources into ``n_chans`` channels by a
    random matrix; the target at each onset (every 2 s from ``first_onset``
    to ``duration - 2``) is the log source power 1 s earlier. Channel
    envelopes see the power only through the mixing; spatial unmixing
    recovers it. Sampled at 100 Hz.
    """
    sfreq = 100.0
    rng = np.random.default_rng(seed)
    recordings = []
    for k in range(n_subjects):
        n = int(duration * sfreq)
        t = np.arange(n) / sfreq
        power = np.repeat(np.exp(rng.standard_normal(n // 200)), 200)[:n]
        source = np.sqrt(power) * np.sin(2 * np.pi * 10 * t)
        mixing = rng.standard_normal((n_chans, 1 + n_noise))
        noise = [rng.standard_normal(n) for _ in range(n_noise)]
        eeg = mixing @ np.stack([source, *noise])
        onsets = np.arange(first_onset, duration - 2.0, 2.0)
        bold = np.log(power[(onsets * sfreq).astype(int) - 100])[:, None]
        recordings.append(
            Recording(
                eeg,
                bold,
                onsets,
                sfreq=sfreq,
                subject=f"s{k}",
                ch_names=[f"E{i}" for i in range(n_chans)],
            )
        )
    return recordings
