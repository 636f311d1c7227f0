"""BandPowerNet: log band power of learned spatial filters."""

import numpy as np
import pytest
import torch

from skeeg2bold import make_windows
from skeeg2bold.features import BandCovariances
from skeeg2bold.metrics import pearson_r
from skeeg2bold.nn import BandPowerNet, EEG2BoldRegressor

from _helpers import source_power_recordings

SFREQ = 100.0


def test_starts_as_the_log_band_power_of_every_channel():
    # Identity filters: the features are the diagonals of BandCovariances'
    # (unshrunk, uncentred) matrices, in log, of the windows with their
    # per-channel line removed.
    from scipy.signal import detrend

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 600)).astype(np.float32)
    net = BandPowerNet(6, 600, 2, SFREQ, n_bins=3).eval()
    with torch.no_grad():
        power = net.band_power(torch.from_numpy(x)).numpy()
    covs = BandCovariances(SFREQ, n_bins=3, estimator="scm", recenter=False).fit_transform(
        detrend(x, axis=-1)
    )
    expected = np.log(np.diagonal(covs, axis1=-2, axis2=-1))
    assert power.shape == expected.shape == (4, 5, 3, 6)
    np.testing.assert_allclose(power, expected, rtol=1e-4, atol=1e-4)


def test_a_spatial_filter_isolates_a_mixed_rhythm():
    # Two channels mix a 10 Hz rhythm and noise; the filter that undoes the
    # mixing sees the rhythm's power change, a channel sees it diluted.
    rng = np.random.default_rng(1)
    t = np.arange(300) / SFREQ
    amps = np.array([1.0, 3.0])
    x = np.stack(
        [np.stack([a * np.sin(2 * np.pi * 10 * t), rng.standard_normal(300)]) for a in amps]
    )
    mixing = np.array([[1.0, 1.0], [1.0, -1.0]])
    mixed = torch.as_tensor(mixing @ x, dtype=torch.float32)
    net = BandPowerNet(2, 300, 1, SFREQ, n_bins=1, bands=[(8.0, 13.0)]).eval()
    with torch.no_grad():
        net.spatial.copy_(torch.as_tensor(np.linalg.inv(mixing).T[None], dtype=torch.float32))
        unmixed = net.band_power(mixed)[:, 0, 0, 0]
    assert float(unmixed[1] - unmixed[0]) == pytest.approx(2 * np.log(3.0), abs=0.05)


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="n_bins must be an integer"):
        BandPowerNet(4, 100, 1, SFREQ, n_bins=0)
    with pytest.raises(ValueError, match="n_filters must be in"):
        BandPowerNet(4, 100, 1, SFREQ, n_filters=5)
    with pytest.raises(ValueError, match="holds no Fourier frequency"):
        BandPowerNet(4, 100, 1, SFREQ, n_bins=10, bands=[(10.2, 10.8)])


def test_regressor_learns_source_power_and_resolves_the_readout():
    recs = source_power_recordings(
        2, n_subjects=2, duration=150.0, n_chans=4, n_noise=1, first_onset=8.0
    )
    data = make_windows(recs, window=3.0)
    train = (data.groups == "s0") | (data.X.times < 100.0)  # s1's end is the test
    reg = EEG2BoldRegressor(
        BandPowerNet, module__n_bins=3, max_epochs=5, train_split=None, random_state=0
    ).fit(data.X[train], data.y[train])
    assert reg.readout_alpha_ is not None  # the readout was re-solved by ridge
    assert pearson_r(data.y[~train], reg.predict(data.X[~train]))[0] > 0.8
