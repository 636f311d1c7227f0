"""Memory of windowing: one hour of 30-channel EEG at 250 Hz, a 10 s window every TR.

Prints the peak memory that ``make_windows`` allocates beyond the continuous
EEG, against the copy a plain ``(n_windows, n_channels, n_times)`` array would
take (the peer, measured in the same run). Target: peak well under 2x the
continuous array's size.

Run: ``python benchmarks/bench_windowing.py``
"""

import time
import tracemalloc
import warnings

import numpy as np

from skeeg2bold import Recording, make_windows


def main(duration=3600.0, sfreq=250.0, n_channels=30, tr=1.95, window=10.0):
    rng = np.random.default_rng(0)
    eeg = rng.standard_normal((n_channels, int(duration * sfreq)))
    onsets = np.arange(0.0, duration, tr)
    bold = rng.standard_normal((onsets.size, 14))
    continuous = eeg.nbytes

    tracemalloc.start()
    t0 = time.perf_counter()
    rec = Recording(
        eeg, bold, onsets, sfreq=sfreq, ch_names=[f"EEG{i:02d}" for i in range(n_channels)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_windows(rec, window=window)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    tracemalloc.start()
    dense = np.asarray(data.X)  # the peer: windows copied into one array
    _, peak_dense = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del dense

    mib = 2**20
    rows = [
        ("continuous EEG", continuous / mib, 1.0),
        ("make_windows peak (beyond the EEG)", peak / mib, peak / continuous),
        ("EEG + windows, total peak", (continuous + peak) / mib, (continuous + peak) / continuous),
        ("dense copy of X (peer)", peak_dense / mib, peak_dense / continuous),
    ]
    print(
        f"{duration / 3600:g} h x {n_channels} ch at {sfreq:g} Hz, {len(data.X)} windows of "
        f"{window:g} s every {tr} s; make_windows took {elapsed * 1e3:.0f} ms"
    )
    print(f"{'':38s} {'MiB':>9s}  {'x continuous':>12s}")
    for name, size, ratio in rows:
        print(f"{name:38s} {size:9.1f}  {ratio:12.3f}")
    return dict(
        continuous_mib=continuous / mib,
        peak_mib=peak / mib,
        total_ratio=(continuous + peak) / continuous,
        dense_ratio=peak_dense / continuous,
        seconds=elapsed,
        n_windows=len(data.X),
    )


if __name__ == "__main__":
    main()
