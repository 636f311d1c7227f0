"""StreamCleaner: overlapping reads of a stream's newest samples, cleaned each sample once."""

import numpy as np
import pytest

from skeeg2bold.online._cleaning import StreamCleaner
from skeeg2bold.preprocessing import CWLRegression, cwl_regression

SFREQ = 100.0


def _stream(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    cw = rng.standard_normal((6, n))
    eeg = rng.standard_normal((4, n)) + rng.standard_normal((4, 6)) @ cw
    ts = 1000.0 + np.arange(n) / SFREQ
    return eeg, cw, ts


@pytest.mark.parametrize("seed", [0, 1])
def test_overlapping_reads_equal_causal_regression_of_the_whole(seed):
    eeg, cw, ts = _stream(seed=seed)
    data = np.vstack([eeg, cw])
    cleaner = StreamCleaner(CWLRegression(window=2.0), SFREQ, 4, 6, n_keep=500)
    rng = np.random.default_rng(seed)
    end, seen = 0, []
    while end < ts.size:
        end = min(ts.size, end + int(rng.integers(1, 120)))
        n_read = min(end, int(rng.integers(1, 380)) + 120)  # reads overlap the last one
        # A ring buffer not yet full has unfilled slots (timestamp 0) first.
        pad = max(0, 400 - end)
        read = np.hstack([np.zeros((10, pad)), data[:, end - n_read : end]])
        read_ts = np.concatenate([np.zeros(pad), ts[end - n_read : end]])
        out, out_ts = cleaner.clean(read, read_ts)
        np.testing.assert_array_equal(out_ts, ts[end - n_read : end])
        seen.append((end, n_read, out))
    whole = cwl_regression(eeg, cw, SFREQ, window=2.0, causal=True)
    for end, n_read, out in seen:
        np.testing.assert_allclose(out, whole[:, end - n_read : end], rtol=1e-7, atol=1e-9)
    assert cleaner.online.n_samples_ == ts.size  # each sample once
    np.testing.assert_array_equal(cleaner.first_sample, data[:, 0])


def test_ready_after_two_half_windows_and_a_model_window():
    eeg, cw, ts = _stream(n=1000)
    cleaner = StreamCleaner(CWLRegression(window=2.0), SFREQ, 4, 6, n_keep=500)
    n_window = 150
    ready = []
    for end in range(50, 1001, 50):
        cleaner.clean(np.vstack([eeg, cw])[:, end - 50 : end], ts[end - 50 : end])
        ready.append((end, cleaner.ready(n_window)))
    # Weights cover every sample from 200 on (two half-windows of 100 samples).
    assert all(flag == (end - n_window >= 200) for end, flag in ready)


def test_nonfinite_samples_come_out_nan_and_do_not_stop_the_cleaning():
    eeg, cw, ts = _stream(n=1200)
    data = np.vstack([eeg, cw])
    data[2, 700] = np.nan
    data[7, 701] = np.inf
    cleaner = StreamCleaner(CWLRegression(window=2.0), SFREQ, 4, 6, n_keep=2000)
    out, _ = cleaner.clean(data, ts)
    bad = ~np.all(np.isfinite(out), axis=0)
    assert np.flatnonzero(bad).tolist() == [700, 701]
    assert np.all(np.isfinite(out[:, 702:]))
