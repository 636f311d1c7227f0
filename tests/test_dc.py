"""Every network is blind to per-channel DC offsets and to drifts linear over a window."""

import functools
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skeeg2bold import DroppedWindowsWarning, EEGWindows, Recording, make_windows
from skeeg2bold.nn import (
    BandPowerNet,
    CompactNet,
    EEG2BoldNet,
    EEG2BoldRegressor,
    InterpretableFeatureExtractor,
    remove_line,
)

N_CHANS, N_TIMES, SFREQ = 4, 200, 50.0
#: Offsets and drifts in µV, on EEG of about 10 µV.
MAX_OFFSET = 1000.0
SIGNAL = 10.0

MODULES = {
    "compact": lambda: CompactNet(N_CHANS, N_TIMES, 3, SFREQ, n_lags=4),
    "compact-learned": lambda: CompactNet(N_CHANS, N_TIMES, 3, SFREQ, learn_temporal=True),
    "compact-random": lambda: CompactNet(
        N_CHANS, N_TIMES, 3, SFREQ, n_branches=3, init_spatial="random", init_bands=False
    ),
    "eeg2bold": lambda: EEG2BoldNet(N_CHANS, N_TIMES, 3, SFREQ, embed_dim=8, n_heads=2),
    "eeg2bold-paper": lambda: EEG2BoldNet(
        N_CHANS,
        N_TIMES,
        3,
        SFREQ,
        n_branches=3,
        init_spatial="random",
        init_bands=False,
        log_envelope=False,
        envelope_sfreq=None,
        embed_dim=8,
        n_heads=2,
        skip_lags=0,
    ),
    "bandpower": lambda: BandPowerNet(N_CHANS, N_TIMES, 3, SFREQ),
    "features": lambda: InterpretableFeatureExtractor(N_CHANS, SFREQ, n_branches=3),
}


@functools.cache
def _module(name):
    torch.manual_seed(0)
    module = MODULES[name]().eval()
    # Random readouts and normalisation statistics, not the zero-mean start.
    with torch.no_grad():
        for param in module.parameters():
            if param.ndim == 1:
                param.add_(torch.randn_like(param))
    return module


@functools.cache
def _windows():
    rng = np.random.default_rng(0)
    return SIGNAL * rng.standard_normal((5, N_CHANS, N_TIMES))


def _predict(module, x):
    with torch.no_grad():
        return module(torch.as_tensor(x, dtype=torch.float32)).double().numpy()


@pytest.mark.parametrize("name", list(MODULES))
@settings(max_examples=10, deadline=None)
@given(
    offsets=arrays(np.float64, N_CHANS, elements=st.floats(-MAX_OFFSET, MAX_OFFSET)),
    drifts=arrays(np.float64, N_CHANS, elements=st.floats(-MAX_OFFSET, MAX_OFFSET)),
)
def test_offsets_and_linear_drifts_change_no_prediction(name, offsets, drifts):
    module, x = _module(name), _windows()
    # Per channel: an offset, and a drift of up to 1000 µV over the window.
    ramp = np.linspace(-0.5, 0.5, N_TIMES)
    shifted = x + offsets[:, None] + drifts[:, None] * ramp
    reference = _predict(module, x)
    scale = reference.std() + np.abs(reference).mean()
    np.testing.assert_allclose(_predict(module, shifted), reference, atol=1e-3 * scale, rtol=0)


def test_an_offset_moves_nothing_where_it_moved_the_compact_prediction_before():
    # The delta filter of CompactNet's fixed bank passes DC (gain near 0.7):
    # without the line removed, a 100 µV offset moved the prediction by far more
    # than its spread across windows.
    module, x = _module("compact"), _windows()
    offsets = np.array([100.0, -100.0, 50.0, 0.0])[:, None]
    reference = _predict(module, x)
    moved = np.abs(_predict(module, x + offsets) - reference).max()
    assert moved <= 1e-3 * reference.std()
    delta = module.feature_extractor.band_filters[0, 0].double().numpy()
    assert abs(delta.sum()) > 0.5  # the filter itself still has a DC gain


def test_remove_line_removes_exactly_offset_and_slope():
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.standard_normal((2, 3, 50)))
    t = torch.arange(50, dtype=torch.float64)
    line = torch.as_tensor(rng.standard_normal((2, 3, 1))) * (1 + t) + 7.0
    out = remove_line(x + line)
    torch.testing.assert_close(out, remove_line(x))
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    torch.testing.assert_close(out.mean(-1), zeros, atol=1e-12, rtol=0)
    torch.testing.assert_close(out @ (t - t.mean()), zeros, atol=1e-10, rtol=0)
    # What is left is orthogonal to the line: scipy's detrend.
    from scipy.signal import detrend

    np.testing.assert_allclose(out.numpy(), detrend((x + line).numpy(), axis=-1), atol=1e-12)


def _shifted(recordings, seed):
    """The recordings with per-channel offsets up to ±1000 µV and linear drifts."""
    rng = np.random.default_rng(seed)
    out = []
    for rec in recordings:
        n_chans, n_samples = rec.eeg.shape
        offset = rng.uniform(-1e-3, 1e-3, (n_chans, 1))
        drift = rng.uniform(-2e-4, 2e-4, (n_chans, 1)) * np.arange(n_samples) / rec.sfreq / 60
        out.append(
            Recording(
                rec.eeg + offset + drift,  # up to 200 µV per minute
                rec.bold,
                rec.volume_times,
                sfreq=rec.sfreq,
                ch_names=rec.ch_names,
                roi_names=rec.roi_names,
                subject=rec.subject,
            )
        )
    return out


def _windows_of(recordings):
    # At the recordings' rate: resampling would bend the line at their ends.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        return make_windows(recordings, window=2.0, step=1.0)


@pytest.mark.parametrize("module", [CompactNet, EEG2BoldNet])
def test_trained_regressor_ignores_offsets_and_drifts(small_sim, module):
    data = _windows_of(small_sim.recordings)
    kwargs = dict(module__embed_dim=8) if module is EEG2BoldNet else {}
    reg = EEG2BoldRegressor(
        module, max_epochs=2, train_split=None, random_state=0, batch_size=32, **kwargs
    ).fit(data.X, data.y[:, :3])
    shifted = _windows_of(_shifted(small_sim.recordings, 0))
    reference = reg.predict(data.X)
    atol = 1e-3 * reference.std(axis=0).max()
    # Windows cut from the recordings (band-passed once, cached) ...
    np.testing.assert_allclose(reg.predict(shifted.X), reference, atol=atol, rtol=0)
    # ... and single windows, as the online twin gives them.
    rows = np.arange(0, len(data.X), 7)
    names = dict(sfreq=data.X.sfreq, ch_names=data.X.ch_names)
    single = EEGWindows.from_array(np.asarray(shifted.X[rows]), **names)
    plain = EEGWindows.from_array(np.asarray(data.X[rows]), **names)
    np.testing.assert_allclose(reg.predict(single), reg.predict(plain), atol=atol, rtol=0)
