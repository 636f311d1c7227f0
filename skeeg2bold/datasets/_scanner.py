"""Scanner artefacts of in-scanner EEG, and the carbon-wire loops that see them.

Inside the scanner's static field every movement of the head and the leads
induces a voltage. Three sources of movement are simulated, each as a few
motion time courses that enter the 30 EEG channels through one spatial
pattern and the six carbon-wire loops through another (the loops touch no
scalp, so they carry no brain signal):

- the pulse (ballistocardiogram): each heartbeat moves the head about
  0.2 s after the ECG's R peak; the heartbeat has beat-to-beat variation
  (random and respiratory) and every beat its own strength;
- the helium pump: a vibration near 42 Hz (with its harmonics below the
  Nyquist frequency) whose strength follows the compressor cycle (~1 Hz);
- head motion: a few jerks per minute and a slow sway; the induced voltage
  follows the velocity.

The EEG sees the motion with small per-channel delays (up to 0.008 s), the loops
without, plus their own sensor noise.
"""

import numpy as np
from scipy.signal import oaconvolve

from ._signals import colored_noise

__all__ = ["CW_NAMES", "scanner_artifacts"]

#: Names of the carbon-wire loop channels (as in the CWL recordings).
CW_NAMES = tuple(f"CW{k}" for k in range(1, 7))
# Peak (V) of the pulse artefact on the channel where it is largest.
_PULSE_PEAK = (80e-6, 150e-6)
# RMS (V) of the helium-pump artefact on its largest channel.
_PUMP_RMS = (4e-6, 8e-6)
# Peak (V) of a head jerk on its largest channel.
_JERK_PEAK = (30e-6, 80e-6)
# Loop sensor noise (V, RMS) and the loops' artefact gain relative to the EEG's.
_CW_NOISE = 0.5e-6
_CW_GAIN = 2.0
# Largest delay (s) of the artefact on an EEG channel relative to the loops.
_MAX_DELAY = 0.008


def _beats(rng, duration, heart_rate):
    """R-peak times (s): RR intervals with random and respiratory variation."""
    rr = 60.0 / heart_rate
    n = int(duration / rr * 1.3) + 4
    resp = 1.0 / rng.uniform(3.5, 5.5)  # breathing frequency (Hz)
    phase = rng.uniform(0, 2 * np.pi)
    times, t = [], rng.uniform(0, rr)
    for _ in range(n):
        times.append(t)
        t += rr * (1.0 + 0.04 * rng.standard_normal() + 0.05 * np.sin(2 * np.pi * resp * t + phase))
        if t > duration + 1.0:
            break
    return np.asarray(times), resp, phase


def _train(onsets, amplitudes, template, n_times, sfreq):
    """``template`` added at ``onsets`` (s) with ``amplitudes``."""
    train = np.zeros(n_times)
    idx = np.round(onsets * sfreq).astype(np.intp)
    keep = (idx >= 0) & (idx < n_times)
    np.add.at(train, idx[keep], amplitudes[keep])
    return oaconvolve(train, template)[:n_times]


def _unit_peak(x):
    return x / np.abs(x).max()


def _pattern(rng, head, n_components, peak):
    """Smooth EEG fields (n_channels, n_components) whose largest entry is ``peak``."""
    gain = head["gain_background"]
    pattern = gain @ rng.standard_normal((gain.shape[1], n_components))
    return pattern * (peak / np.abs(pattern).max(axis=0))


def scanner_artifacts(rng, head, n_times, sfreq, heart_rate):
    """Scanner artefacts on the EEG, the carbon-wire loops and the ECG of one run.

    Parameters
    ----------
    rng : numpy.random.Generator
        The artefacts' own stream (the rest of the subject is unchanged).
    head : dict
        The subject's forward model (:func:`~._head.subject_head`).
    n_times : int
    sfreq : float
    heart_rate : float
        Beats per minute.

    Returns
    -------
    eeg : ndarray of shape (n_channels, n_times)
        The artefact on every EEG channel (V).
    cw : ndarray of shape (6, n_times)
        The six loops (V): the same motion through other patterns, plus noise.
    ecg : ndarray of shape (n_times,)
        The ECG (V), R peaks at the heartbeats.
    beats : ndarray
        R-peak times (s).
    """
    duration = n_times / sfreq
    t = np.arange(n_times) / sfreq
    n_channels = head["gain"].shape[0]

    # Pulse: three motion components per beat (shapes of a rocking head).
    beats, resp, phase = _beats(rng, duration, heart_rate)
    strength = (1.0 + 0.15 * rng.standard_normal(beats.size)) * (
        1.0 + 0.1 * np.sin(2 * np.pi * resp * beats + phase)
    )
    tt = np.arange(int(0.8 * sfreq)) / sfreq
    pulse = []
    for _ in range(3):
        c1, c2 = rng.uniform(0.18, 0.26), rng.uniform(0.3, 0.45)
        template = np.exp(-0.5 * ((tt - c1) / 0.035) ** 2) - rng.uniform(0.4, 0.8) * np.exp(
            -0.5 * ((tt - c2) / rng.uniform(0.05, 0.08)) ** 2
        )
        pulse.append(_unit_peak(_train(beats, strength, template, n_times, sfreq)))
    pulse = np.array(pulse)

    # Helium pump: ~42 Hz vibration (harmonics below Nyquist), compressor cycle.
    f0 = rng.uniform(40.0, 44.0)
    cycle = 1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.9, 1.3) * t + rng.uniform(0, 6.3))
    pump = []
    for _ in range(1):
        wave = np.zeros(n_times)
        for h in (1, 2, 3):
            if h * f0 < 0.45 * sfreq:
                wave += (
                    rng.uniform(0.3, 1.0)
                    / h
                    * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi))
                )
        pump.append(wave * cycle / np.sqrt(np.mean((wave * cycle) ** 2)))
    pump = np.array(pump)

    # Head motion: velocity of a few jerks per minute and a slow sway.
    n_jerks = rng.poisson(duration / 30.0)
    jerks = np.sort(rng.uniform(0, duration, n_jerks))
    bump = np.exp(-0.5 * ((np.arange(int(0.6 * sfreq)) / sfreq - 0.3) / 0.07) ** 2)
    motion = []
    for _ in range(2):
        velocity = _train(jerks, rng.choice([-1.0, 1.0], n_jerks), bump, n_times, sfreq)
        sway = 0.1 * colored_noise(rng, 1, n_times, sfreq, lambda f: (f < 2.0) / (f + 0.1))[0]
        motion.append(velocity + sway)
    motion = np.array(motion)

    components = np.vstack([pulse, pump, motion])  # (6, n_times): six motion directions
    eeg_patterns = np.hstack(
        [
            _pattern(rng, head, 3, rng.uniform(*_PULSE_PEAK)),
            _pattern(rng, head, 1, rng.uniform(*_PUMP_RMS)),
            _pattern(rng, head, 2, rng.uniform(*_JERK_PEAK)),
        ]
    )
    # Each EEG channel sees the motion slightly later than the loops.
    delays = np.round(rng.uniform(0, _MAX_DELAY, n_channels) * sfreq).astype(int)
    eeg = np.zeros((n_channels, n_times))
    for c in range(n_channels):
        shifted = np.pad(components, ((0, 0), (delays[c], 0)))[:, :n_times]
        eeg[c] = eeg_patterns[c] @ shifted
    cw_patterns = _CW_GAIN * rng.standard_normal((len(CW_NAMES), components.shape[0]))
    cw_patterns *= np.abs(eeg_patterns).max(axis=0)
    cw = cw_patterns @ components + _CW_NOISE * rng.standard_normal((len(CW_NAMES), n_times))

    # ECG: P-QRS-T at the beats, about 1 mV, with noise.
    te = np.arange(int(0.6 * sfreq)) / sfreq - 0.2
    qrs = (
        0.15 * np.exp(-0.5 * ((te + 0.15) / 0.02) ** 2)
        - 0.1 * np.exp(-0.5 * ((te + 0.02) / 0.008) ** 2)
        + 1.0 * np.exp(-0.5 * (te / 0.01) ** 2)
        - 0.2 * np.exp(-0.5 * ((te - 0.03) / 0.01) ** 2)
        + 0.3 * np.exp(-0.5 * ((te - 0.25) / 0.04) ** 2)
    )
    ecg = 1e-3 * _train(beats - 0.2, np.ones(beats.size), qrs, n_times, sfreq)
    ecg += 20e-6 * rng.standard_normal(n_times)
    return eeg, cw, ecg, beats


def add_scanner_artifacts(rng, head, eeg, sfreq, heart_rate):
    """``eeg`` with the scanner artefacts, the auxiliary channels and the truth.

    Returns
    -------
    eeg : ndarray
        A new array, the artefacts added (dtype of ``eeg``).
    aux : dict
        ``CW1``-``CW6`` and ``ECG`` for :attr:`Recording.aux`.
    truth : dict
        ``eeg_clean`` (the input EEG, the artefact-free truth) and
        ``beats`` (R-peak times, s).
    """
    artifact, cw, ecg, beats = scanner_artifacts(rng, head, eeg.shape[1], sfreq, heart_rate)
    aux = dict(zip(CW_NAMES, cw))
    aux["ECG"] = ecg
    return (eeg + artifact).astype(eeg.dtype), aux, {"eeg_clean": eeg, "beats": beats}
