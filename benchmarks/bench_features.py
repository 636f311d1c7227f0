"""Envelope extraction: EnvelopeFeatureExtractor against the straightforward MNE route.

Paper-sized data (8 subjects x 285 s, 30 channels, 10 s windows ending at
every volume, TR 1.95 s) from the package's simulator. Both routes compute
the same features, the Hilbert envelope of five bands smoothed by a 1 s
Hamming window and read every 0.5 s back from each window's end (20 lags x
5 bands x 30 channels = 3000 features per window), on one thread each:

- MNE route: per subject, the windows as one array, then per band
  ``mne.filter.filter_data`` (same default FIR design) + ``scipy.signal.hilbert``
  + Hamming smoothing (``scipy.signal.fftconvolve``) + decimation.
- MNE on the continuous recordings: the same ``filter_data`` + ``hilbert`` +
  smoothing once per recording, then read at every window's lags (what the
  extractor does for ``EEGWindows``, with MNE's filters).
- ``EnvelopeFeatureExtractor`` on the ``EEGWindows`` from ``make_windows``
  (each recording filtered once), and on the same windows as a plain array.

Agreement is measured on lags at least 2.5 s from both window edges, where
the MNE route's per-window filtering has no edge effect (its FIR half-length
is 1.65 s for the 1 Hz delta edge, plus half the smoothing window).

The default rate is 250 Hz: every band lies below 45 Hz, so 250 Hz (the
rate ``make_windows(sfreq=250)`` resamples the 1000 Hz CWL data to) loses
nothing, and the MNE route at 1000 Hz takes about 36 s per subject on one
core. ``--sfreq 1000`` runs the native CWL rate.

Run: ``python benchmarks/bench_features.py [--sfreq 250] [--n-subjects 8]``
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from skeeg2bold import EEGWindows, make_windows
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.features import EnvelopeFeatureExtractor

SMOOTHING = 1.0
OUT_SFREQ = 2.0
EDGE = 2.5  # s kept away from both window edges when comparing
REPEATS = 3  # runs of the two continuous routes, best kept


def smoothed_envelopes(x, sfreq, bands):
    """MNE filter + Hilbert + Hamming smoothing at full rate, (..., n_bands, n_times)."""
    import mne
    from scipy.signal import fftconvolve, hilbert

    hamming = np.hamming(2 * int(round(SMOOTHING * sfreq / 2)) + 1)
    hamming /= hamming.sum()
    out = np.empty(x.shape[:-1] + (len(bands), x.shape[-1]))
    kernel = hamming.reshape((1,) * (x.ndim - 1) + (-1,))
    for b, (l_freq, h_freq) in enumerate(bands.values()):
        filtered = mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose=False)
        envelope = np.abs(hilbert(filtered, axis=-1))
        out[..., b, :] = fftconvolve(envelope, kernel, mode="same", axes=-1)
    return out


def mne_route(windows, sfreq, bands, lags):
    """The straightforward per-window computation, (n_windows, n_ch, n_bands, n_lags)."""
    x = np.asarray(windows, dtype=np.float64)
    positions = np.round(x.shape[-1] - 1 - lags * sfreq).astype(int)
    return smoothed_envelopes(x, sfreq, bands)[..., positions]


def continuous_route(eeg, starts, n_times, sfreq, bands, lags):
    """The MNE computation on a whole recording, read at every window's lags."""
    series = smoothed_envelopes(np.asarray(eeg, dtype=np.float64), sfreq, bands)
    positions = starts[:, None] + n_times - 1 - np.round(lags * sfreq).astype(int)
    return series[:, :, positions].transpose(2, 0, 1, 3)


def agreement(fast, reference, keep):
    """Per band: Pearson r, median and 99th-percentile relative error on ``keep`` lags."""
    rows = []
    for b in range(fast.shape[2]):
        a = fast[:, :, b][..., keep].ravel().astype(np.float64)
        ref = reference[:, :, b][..., keep].ravel()
        rel = np.abs(a - ref) / np.abs(ref).mean()
        rows.append((np.corrcoef(a, ref)[0, 1], np.median(rel), np.percentile(rel, 99)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=8)
    parser.add_argument("--duration", type=float, default=285.0)
    parser.add_argument("--sfreq", type=float, default=250.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sim = simulate_eeg_fmri(
        n_subjects=args.n_subjects,
        duration=args.duration,
        sfreq=args.sfreq,
        random_state=args.seed,
    )
    data = make_windows(sim.recordings, window=10.0)
    X, sfreq = data.X, data.sfreq
    print(f"data: {X!r}")
    print(f"      {X.nbytes / 2**30:.2f} GiB if materialised; continuous EEG float32")

    extractor = EnvelopeFeatureExtractor(smoothing=SMOOTHING, out_sfreq=OUT_SFREQ)
    with threadpool_limits(1):
        t0 = time.perf_counter()
        features = extractor.fit_transform(X)
        t_fast = time.perf_counter() - t0
        shape = (len(X), X.shape[1], len(extractor.bands_), extractor.lags_.size)
        fast = features.reshape(shape)

        t_array, t_mne = 0.0, 0.0
        reference = np.empty(shape)
        for subject in np.unique(data.groups):
            idx = np.flatnonzero(data.groups == subject)
            windows = np.asarray(X[idx])
            t0 = time.perf_counter()
            # Named plain windows: each filtered on its own, as arrays are.
            named = EEGWindows.from_array(windows, sfreq=sfreq, ch_names=X.ch_names)
            array_features = extractor.transform(named)
            t_array += time.perf_counter() - t0
            t0 = time.perf_counter()
            reference[idx] = mne_route(windows, sfreq, extractor.bands_, extractor.lags_)
            t_mne += time.perf_counter() - t0
            if subject == data.groups[0]:
                first_array = array_features.reshape((idx.size,) + shape[1:])
                first_idx = idx
        # Both filter each recording once: the closest race, so the best of
        # REPEATS runs of each (a busy machine slows single runs unevenly).
        t_continuous = np.inf
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            for k, (eeg, starts, rows) in enumerate(X.iter_segments()):
                series = continuous_route(
                    eeg, starts, X.n_times, sfreq, extractor.bands_, extractor.lags_
                )
                if k == 0:
                    continuous, positions = series, rows
            t_continuous = min(t_continuous, time.perf_counter() - t0)
            t0 = time.perf_counter()
            extractor.fit_transform(X)
            t_fast = min(t_fast, time.perf_counter() - t0)

    print(f"\n{features.shape[1]} features per window, one thread each:")
    print(f"  EnvelopeFeatureExtractor on EEGWindows : {t_fast:8.2f} s (best of {REPEATS + 1})")
    print(f"  EnvelopeFeatureExtractor on arrays     : {t_array:8.2f} s")
    print(f"  MNE route (filter_data+hilbert+smooth) : {t_mne:8.2f} s")
    print(f"  MNE on the continuous recordings       : {t_continuous:8.2f} s (best of {REPEATS})")
    print(f"  ratio MNE / EEGWindows                 : {t_mne / t_fast:8.1f} x")
    print(f"  ratio MNE / arrays                     : {t_mne / t_array:8.1f} x")
    print(f"  ratio MNE continuous / EEGWindows      : {t_continuous / t_fast:8.1f} x")

    lags = extractor.lags_
    window_s = (X.shape[2] - 1) / sfreq
    interior = (lags >= EDGE) & (lags <= window_s - EDGE)
    print(
        f"\nagreement with the MNE route on lags {lags[interior].min():g}-"
        f"{lags[interior].max():g} s (relative error = |diff| / mean envelope):"
    )
    print(
        f"  {'band':8s} {'r (EEGWindows)':>15s} {'median':>8s} {'p99':>8s}"
        f" {'r (arrays)':>11s} {'median':>8s} {'p99':>8s}"
    )
    rows = agreement(fast, reference, interior)
    rows_array = agreement(first_array, reference[first_idx], interior)
    for name, (r, med, p99), (ra, meda, p99a) in zip(extractor.bands_, rows, rows_array):
        print(f"  {name:8s} {r:15.6f} {med:8.1e} {p99:8.1e} {ra:11.6f} {meda:8.1e} {p99a:8.1e}")
    print("  (arrays: first subject only)")
    print(
        "\nagreement of the EEGWindows route with the same MNE computation on the "
        "continuous EEG\n(first subject, no window edges, every lag 0-"
        f"{lags.max():g} s):"
    )
    every = np.ones(lags.size, dtype=bool)
    rows = agreement(fast[positions], continuous, every)
    for name, (r, med, p99) in zip(extractor.bands_, rows):
        print(f"  {name:8s} r={r:.6f}  median {med:.1e}  p99 {p99:.1e}")


if __name__ == "__main__":
    main()
