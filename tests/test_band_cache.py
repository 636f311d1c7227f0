"""The cached band-pass path of the networks gives the features of the uncached one."""

import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from skeeg2bold import DroppedWindowsWarning, EEGWindows, make_windows
from skeeg2bold.nn import (
    CompactNet,
    EEG2BoldRegressor,
    InterpretableFeatureExtractor,
    remove_line,
)
from skeeg2bold.nn._band_cache import (
    BandWindowDataset,
    band_passed_recording,
    clear_band_cache,
)
from skeeg2bold.nn._feature_extractor import depthwise_same_conv

from _helpers import TOY_SFREQ as SFREQ
from _helpers import toy_recordings


@pytest.fixture(scope="module")
def data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        return make_windows(toy_recordings(), window=2.0, dtype="float32")


def _fixed_bank(n_chans=8, **kwargs):
    torch.manual_seed(0)
    fe = InterpretableFeatureExtractor(
        n_chans,
        SFREQ,
        n_branches=None,
        init_bands="canonical",
        init_spatial="channels",
        learn_temporal=False,
        filter_length=0.3,
        **kwargs,
    )
    torch.nn.init.normal_(fe.spatial.weight)  # any spatial mixing, not the identity start
    return fe


def _spatial_then_temporal(fe, x):
    """The front end as the network computed it before: the reference."""
    rectified = depthwise_same_conv(fe.spatial(remove_line(x)), fe.temporal.weight).abs()
    d = fe.decimation
    if d > 1:
        rectified = F.avg_pool1d(rectified[..., rectified.shape[-1] % d :], d)
    return torch.log(depthwise_same_conv(rectified, fe.smoothing) + 1e-4)


@pytest.mark.parametrize("n_branches", [None, 7])
def test_band_first_path_gives_the_spatial_then_temporal_features(n_branches):
    # Branches of every band in any order (7 random-spatial branches cycle the bands).
    torch.manual_seed(0)
    fe = InterpretableFeatureExtractor(
        8,
        SFREQ,
        n_branches=n_branches,
        init_bands="canonical",
        init_spatial="channels" if n_branches is None else "random",
        learn_temporal=False,
        log_envelope=True,
    )
    x = torch.randn(3, 8, 200)
    direct = depthwise_same_conv(fe.spatial(remove_line(x)), fe.temporal.weight)
    torch.testing.assert_close(fe.filtered(x), direct, rtol=1e-4, atol=1e-5)
    # Full rate (no envelope_sfreq): the same features, whichever input form.
    torch.testing.assert_close(fe(x), _spatial_then_temporal(fe, x), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fe(fe.prefilter(x)), fe(x))
    torch.testing.assert_close(fe(fe.band_inputs(x)), fe(x))
    assert not fe.temporal.weight.requires_grad
    assert fe.band_filters.shape == (4, 1, fe.temporal.weight.shape[-1])  # no gamma at 50 Hz


def test_subsampled_rectification_stands_for_the_full_one():
    # At an envelope rate of 10 Hz, slow bands are read every q-th sample.
    torch.manual_seed(0)
    fe = InterpretableFeatureExtractor(
        8,
        100.0,
        n_branches=None,
        init_bands="canonical",
        init_spatial="channels",
        envelope_sfreq=10.0,
        log_envelope=True,
    )
    assert fe._strides[0] > 1 and fe._strides[-1] == 1  # delta subsampled, gamma not
    x = torch.randn(40, 8, 1000)
    fast, reference = fe(x), _spatial_then_temporal(fe, x)
    assert fast.shape == reference.shape == (40, 40, 100)
    # Each feature (branch, time) across windows: nearly the same numbers.
    a, b = (v[:, :, 40:60].reshape(40, -1).detach().double().numpy() for v in (fast, reference))
    a, b = a - a.mean(0), b - b.mean(0)
    r = (a * b).sum(0) / np.sqrt((a**2).sum(0) * (b**2).sum(0))
    assert np.median(r) > 0.99 and r.min() > 0.9


def test_learned_or_unbanded_filters_have_no_prefilter():
    bank = dict(init_bands="canonical", init_spatial="channels")
    learned = InterpretableFeatureExtractor(8, SFREQ, n_branches=None, learn_temporal=True, **bank)
    assert learned.band_filters is None and learned.temporal.weight.requires_grad
    # "auto": fixed when every channel has every band, learned with fewer branches.
    auto = InterpretableFeatureExtractor(8, SFREQ, n_branches=None, **bank)
    assert auto.band_filters.shape[0] == 4
    few = InterpretableFeatureExtractor(8, SFREQ, n_branches=4, **bank)
    assert few.band_filters is None and few.temporal.weight.requires_grad
    random = InterpretableFeatureExtractor(8, SFREQ, n_branches=4, learn_temporal=False)
    assert random.band_filters is None
    with pytest.raises(ValueError, match="learn_temporal=False"):
        random.prefilter(torch.randn(1, 8, 100))


def test_cached_recording_equals_windowwise_filtering_inside_the_window(data):
    fe = _fixed_bank(envelope_sfreq=10.0)
    clear_band_cache()
    dataset = BandWindowDataset(data.X, None, 2e-5, fe)
    half = fe.temporal.weight.shape[-1] // 2
    n = data.X.n_times
    idx = np.linspace(0, len(data.X) - 1, 6).astype(int)
    windows = torch.as_tensor(np.asarray(data.X[idx]) / np.float32(2e-5))
    expected = fe.band_inputs(windows)
    items = [dataset[i][0] for i in idx]
    for b, sl in enumerate(fe.band_slices(n)):
        cached = torch.stack([bands[b] for bands in items])
        assert cached.shape == expected[b].shape
        # The window-wise filter sees zeros past the window's edges; inside, the two agree.
        inside = torch.as_tensor((np.arange(n)[sl] >= half) & (np.arange(n)[sl] < n - half))
        torch.testing.assert_close(
            cached[..., inside], expected[b][..., inside], rtol=1e-4, atol=1e-4
        )
        # ... and the continuous recording has no edge: the cached edges differ.
        assert not torch.allclose(cached[..., ~inside], expected[b][..., ~inside], atol=1e-2)


def test_cache_is_keyed_on_the_content(data):
    fe = _fixed_bank()
    clear_band_cache()
    eeg = np.asarray(data.X._buffers[0])
    first = band_passed_recording(eeg, fe.band_filters)
    assert band_passed_recording(eeg.copy(), fe.band_filters) is first  # same content
    changed = eeg.copy()
    changed[0, 100] += 1.0
    other = band_passed_recording(changed, fe.band_filters)
    assert other is not first and not np.array_equal(other, first)
    np.testing.assert_array_equal(band_passed_recording(eeg, fe.band_filters, cache=False), first)
    assert not first.flags.writeable


def test_regressor_uses_the_cache_for_windows_and_agrees_with_arrays(data):
    reg = EEG2BoldRegressor(
        CompactNet, max_epochs=2, random_state=0, train_split=None, module__filter_length=0.3
    )
    reg.fit(data.X, data.y)
    assert isinstance(reg.get_dataset(data.X), BandWindowDataset)
    assert not isinstance(reg.get_dataset(np.asarray(data.X)), BandWindowDataset)
    # Windows through the cache and the same windows as a plain array (filtered
    # window by window) differ only by the window edges the envelopes smooth over.
    from_windows = reg.predict(data.X)
    # (named, as a fitted model refuses plain arrays whose channels it cannot check)
    from_arrays = reg.predict(
        EEGWindows.from_array(np.asarray(data.X), sfreq=data.X.sfreq, ch_names=data.X.ch_names)
    )
    for a, b in zip(from_windows.T, from_arrays.T):
        assert np.corrcoef(a, b)[0, 1] > 0.95
    # The uncached network (learned filters, the former path) is still reachable.
    old = EEG2BoldRegressor(
        CompactNet, max_epochs=1, random_state=0, train_split=None, module__learn_temporal=True
    ).fit(data.X, data.y)
    assert not isinstance(old.get_dataset(data.X), BandWindowDataset)


def test_a_batch_is_assembled_in_one_go_and_equals_the_stacked_windows(data):
    from torch.utils.data import Subset, default_collate

    from skeeg2bold.nn._datasets import WindowDataset, collate_batch

    fe = _fixed_bank(envelope_sfreq=10.0)
    y = np.arange(2 * len(data.X), dtype=float).reshape(-1, 2)
    idx = [5, 0, 17, 3]
    for dataset in (BandWindowDataset(data.X, y, 2e-5, fe), WindowDataset(data.X, y, 2e-5)):
        subset = Subset(dataset, np.arange(len(data.X))[::-1])
        samples = subset.__getitems__(idx)
        # A list of samples for any collate function; collate_batch takes the batch as built.
        expected = default_collate([subset[i] for i in idx])
        for batch in (default_collate(samples), collate_batch(samples)):
            torch.testing.assert_close(batch, expected, rtol=0, atol=0)
    reg = EEG2BoldRegressor(CompactNet, max_epochs=1, random_state=0).fit(data.X, data.y)
    loader = reg.get_iterator(reg.get_dataset(data.X, data.y), training=True)
    assert loader.collate_fn is collate_batch
