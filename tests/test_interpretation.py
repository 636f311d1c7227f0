"""Branch patterns recover a planted source topography and frequency band."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mne  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy.signal import firwin  # noqa: E402

from skeeg2bold.nn import CompactNet, branch_patterns, plot_branch_patterns  # noqa: E402

SFREQ = 100.0
CH_NAMES = ["Fp1", "Fp2", "C3", "C4", "Cz", "P3", "P4", "O1"]


def _planted(seed=0, n_windows=120, n_times=200):
    """A 20 Hz source with topography ``a`` buried in spatially correlated noise."""
    rng = np.random.default_rng(seed)
    n_chans = len(CH_NAMES)
    a = np.array([0.0, 0.1, 1.0, -0.6, 0.8, 0.3, -0.2, 0.0])
    mixing = rng.standard_normal((n_chans, n_chans))
    t = np.arange(n_times) / SFREQ
    X = np.empty((n_windows, n_chans, n_times))
    for i in range(n_windows):
        source = rng.uniform(0.5, 2.0) * np.sin(2 * np.pi * 20 * t + rng.uniform(0, 6))
        noise = np.cumsum(rng.standard_normal((n_chans, n_times)), axis=1) * 0.3  # 1/f^2
        X[i] = np.outer(a, source) + mixing @ noise
    return X, a


def _net_with_planted_weights(X, a):
    net = CompactNet(
        n_chans=len(CH_NAMES),
        n_times=X.shape[2],
        n_outputs=1,
        sfreq=SFREQ,
        n_branches=2,
        filter_length=0.31,
    )
    # The spatial filter is the one that best extracts the source: inverse
    # covariance times the pattern. Its weights do not look like the pattern.
    cov = np.einsum("nct,ndt->cd", X, X) / (X.shape[0] * X.shape[2])
    w = np.linalg.solve(cov, a)
    taps = firwin(
        net.feature_extractor.temporal.weight.shape[-1], [5, 40], fs=SFREQ, pass_zero=False
    )
    with torch.no_grad():
        net.feature_extractor.spatial.weight[0, :, 0] = torch.tensor(w)
        net.feature_extractor.spatial.weight[1, :, 0] = torch.tensor(np.eye(len(a))[0])
        net.feature_extractor.temporal.weight[:, 0, :] = torch.tensor(taps)
    return net, w


def test_patterns_recover_planted_topography_and_band():
    X, a = _planted()
    net, w = _net_with_planted_weights(X, a)
    patterns = branch_patterns(net, X, sfreq=SFREQ)
    assert patterns.spatial_patterns.shape == (2, len(CH_NAMES))
    assert patterns.temporal_patterns.shape == (2, X.shape[2] // 2 + 1)
    r_pattern = abs(np.corrcoef(patterns.spatial_patterns[0], a)[0, 1])
    r_weights = abs(np.corrcoef(w, a)[0, 1])
    assert r_pattern > 0.95
    assert r_weights < r_pattern - 0.1  # raw weights are not the topography
    # The filter passes 5-40 Hz evenly; weighting by the input spectrum finds 20 Hz.
    peak = patterns.freqs[np.argmax(patterns.temporal_patterns[0])]
    assert peak == pytest.approx(20.0, abs=1.0)
    assert patterns.temporal_patterns[0].max() == pytest.approx(1.0)
    np.testing.assert_allclose(patterns.spatial_filters[0], w, rtol=1e-5)


def test_patterns_from_a_fitted_regressor_use_its_channel_names():
    from skeeg2bold.nn import EEG2BoldRegressor

    X, _ = _planted(n_windows=40)
    y = np.log(np.var(X[:, 2], axis=1))
    reg = EEG2BoldRegressor(
        CompactNet,
        sfreq=SFREQ,
        max_epochs=1,
        train_split=None,
        random_state=0,
        module__n_branches=3,
    ).fit(X, y)
    patterns = branch_patterns(reg, X)
    assert patterns.spatial_patterns.shape == (3, len(CH_NAMES))
    with pytest.raises(ValueError, match="shape"):
        branch_patterns(reg, X[:, :4])
    with pytest.raises(TypeError, match="feature_extractor"):
        branch_patterns(torch.nn.Linear(2, 2), X)


def test_plot_branch_patterns_draws_topomaps_and_spectra():
    X, a = _planted(n_windows=30)
    net, _ = _net_with_planted_weights(X, a)
    patterns = branch_patterns(net, X, sfreq=SFREQ)
    patterns.ch_names = CH_NAMES
    fig = plot_branch_patterns(patterns, fmax=45.0, show=False)
    assert len(fig.axes) >= 4  # topomap + spectrum per branch
    assert fig.axes[1].get_xlim()[1] <= 46
    plt.close(fig)
    info = mne.create_info(CH_NAMES, SFREQ, "eeg").set_montage("colin27_1020")
    fig = plot_branch_patterns(patterns, info, branches=[1], title="CompactNet", show=False)
    # The label stands over the branch's spectrum, left-aligned (the topomap is narrow).
    (label,) = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert label.startswith("branch 1 (weight")
    assert fig.get_suptitle() == "CompactNet"  # not a branch's label
    assert ": peak " in label and " Hz" in label
    assert any(ax.get_ylabel() == "pattern (a.u.)" for ax in fig.axes)  # colour bar
    plt.close(fig)
    with pytest.raises(ValueError, match="do not exist"):
        plot_branch_patterns(patterns, info, branches=[5], show=False)
    patterns.ch_names = None
    with pytest.raises(ValueError, match="sensor positions"):
        plot_branch_patterns(patterns, show=False)


def test_many_branches_draw_the_most_important_ones():
    from skeeg2bold.ensemble import SeedEnsembleRegressor
    from skeeg2bold.nn import EEG2BoldNet, EEG2BoldRegressor

    X, _ = _planted(n_windows=40)
    y = np.log(np.var(X[:, 2], axis=1))
    reg = EEG2BoldRegressor(
        CompactNet,
        sfreq=SFREQ,
        max_epochs=1,
        train_split=None,
        random_state=0,
        module__n_branches=5,
    )
    ensemble = SeedEnsembleRegressor(reg, n_members=2, random_state=0).fit(X, y)
    patterns = branch_patterns(ensemble, X)  # the first member stands for the ensemble
    first = ensemble.estimators_[0].module_
    weight = first.readout.weight.detach().numpy().reshape(1, 5, first.n_lags)
    np.testing.assert_allclose(
        patterns.importance, np.sqrt((weight**2).sum(axis=(0, 2))), rtol=1e-6
    )
    patterns.ch_names = CH_NAMES
    fig = plot_branch_patterns(patterns, max_branches=2, show=False)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    drawn = [int(t.split()[1].rstrip(":")) for t in titles if t]
    assert drawn == list(np.argsort(-patterns.importance)[:2])
    plt.close(fig)
    with pytest.raises(ValueError, match="max_branches"):
        plot_branch_patterns(patterns, max_branches=0, show=False)
    # Networks whose readout does not read the branches have no importance.
    net = EEG2BoldNet(
        n_chans=len(CH_NAMES),
        n_times=200,
        n_outputs=1,
        sfreq=SFREQ,
        n_branches=3,
        embed_dim=8,
        n_heads=2,
    )
    assert branch_patterns(net, X, sfreq=SFREQ).importance is None
