"""EnvelopeFeatureExtractor: agreement with MNE, both input routes, the sklearn contract."""

import pickle
import warnings

import mne
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.signal import fftconvolve, hilbert
from sklearn.base import clone

from skeeg2bold import EEGWindows, Recording, make_windows
from skeeg2bold.features import EnvelopeFeatureExtractor, HRFConvolution

from _helpers import am_signals

SFREQ = 100.0
CH_NAMES = ["Cz", "Pz", "Oz"]


def _windows(n_subjects=2, duration=60.0, ch_names=CH_NAMES, sfreq=SFREQ, seed=0):
    recordings = []
    for k in range(n_subjects):
        eeg = am_signals(len(ch_names), int(duration * sfreq), sfreq, seed + k)
        volume_times = np.arange(2.0, duration, 1.95)
        bold = np.random.default_rng(k).standard_normal((volume_times.size, 2))
        recordings.append(
            Recording(eeg, bold, volume_times, sfreq=sfreq, ch_names=ch_names, subject=f"s{k}")
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # windows before 10 s are dropped, as intended
        return make_windows(recordings, window=10.0)


def _mne_envelopes(x, sfreq, bands, smoothing, envelope="hilbert"):
    """The straightforward route at full rate: (..., n_bands, n_times)."""
    hamming = np.hamming(2 * int(round(smoothing * sfreq / 2)) + 1)
    hamming /= hamming.sum()
    out = []
    for l_freq, h_freq in bands.values():
        filtered = mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose=False)
        env = np.abs(hilbert(filtered, axis=-1)) if envelope == "hilbert" else np.abs(filtered)
        kernel = hamming.reshape((1,) * (x.ndim - 1) + (-1,))
        out.append(fftconvolve(env, kernel, mode="same", axes=-1))
    return np.stack(out, axis=-2)


@pytest.mark.parametrize("envelope", ["hilbert", "rectify"])
def test_continuous_route_matches_mne_on_the_recording(envelope):
    """EEGWindows are read from the continuously filtered EEG: equal to MNE's
    filter_data + hilbert/abs + Hamming smoothing on the whole recording, at
    every lag, including the window edges."""
    data = _windows(n_subjects=1, duration=60.0)
    bands = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0)}
    ext = EnvelopeFeatureExtractor(bands=bands, envelope=envelope, dtype="float64")
    features = ext.fit_transform(data.X).reshape(len(data.X), 3, 3, -1)
    eeg, starts, _ = next(data.X.iter_segments())
    series = _mne_envelopes(eeg, SFREQ, bands, smoothing=1.0, envelope=envelope)
    positions = starts[:, None] + data.X.n_times - 1 - np.round(ext.lags_ * SFREQ).astype(int)
    reference = series[:, :, positions].transpose(2, 0, 1, 3)
    # Leave out the recording's own last 3 s (MNE pads there, the extractor reflects).
    keep = (starts + data.X.n_times) < eeg.shape[1] - 3 * SFREQ
    error = np.abs(features[keep] - reference[keep]) / np.abs(reference).mean()
    assert np.percentile(error, 99) < 3e-3
    assert np.corrcoef(features[keep].ravel(), reference[keep].ravel())[0, 1] > 0.99999


def test_array_route_matches_mne_away_from_window_edges():
    """A plain array is filtered window by window; inside the window (away
    from filter and smoothing edges) it equals the per-window MNE route."""
    X = am_signals(6, 1500).reshape(3, 2, 1500)  # 3 windows x 2 channels x 15 s
    bands = {"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}
    ext = EnvelopeFeatureExtractor(sfreq=SFREQ, bands=bands, dtype="float64")
    features = ext.fit_transform(X).reshape(3, 2, 2, -1)
    series = _mne_envelopes(X, SFREQ, bands, smoothing=1.0)
    reference = series[..., np.round(1499 - ext.lags_ * SFREQ).astype(int)]
    inner = (ext.lags_ >= 2.0) & (ext.lags_ <= 12.0)
    assert_allclose(features[..., inner], reference[..., inner], rtol=0, atol=3e-3)


def test_envelope_recovers_amplitude_modulation():
    n = 6000
    t = np.arange(n) / SFREQ
    amplitude = 1.0 + 0.5 * np.sin(2 * np.pi * 0.1 * t)
    X = (amplitude * np.sin(2 * np.pi * 10.0 * t))[None, None]
    ext = EnvelopeFeatureExtractor(
        sfreq=SFREQ,
        bands={"alpha": (8.0, 12.0)},
        layout="series",
        out_sfreq=5.0,
        smoothing=0.2,
    )
    series = ext.fit_transform(X)[0, 0]
    times = (n - 1) / SFREQ - ext.lags_
    inner = (times > 5) & (times < 55)
    assert_allclose(series[inner], 1.0 + 0.5 * np.sin(2 * np.pi * 0.1 * times[inner]), atol=0.02)


def test_windows_and_array_routes_agree_inside_windows():
    data = _windows(n_subjects=2)
    ext = EnvelopeFeatureExtractor(bands={"alpha": (8.0, 13.0)}, dtype="float64")
    lazy = ext.fit_transform(data.X).reshape(len(data.X), 3, -1)
    plain = EEGWindows.from_array(np.asarray(data.X), sfreq=SFREQ, ch_names=CH_NAMES)
    dense = ext.transform(plain).reshape(len(data.X), 3, -1)
    inner = (ext.lags_ >= 2.0) & (ext.lags_ <= 7.0)
    assert_allclose(lazy[..., inner], dense[..., inner], rtol=0, atol=1e-3 * np.abs(lazy).mean())


def test_cv_subsets_give_the_same_rows():
    """X[idx] (what cross-validation does) must not change any window's features."""
    data = _windows(n_subjects=2)
    ext = EnvelopeFeatureExtractor(bands={"alpha": (8.0, 13.0)}).fit(data.X)
    full = ext.transform(data.X)
    idx = np.array([30, 2, 17, 5])
    assert_array_equal(ext.transform(data.X[idx]), full[idx])


def test_layouts_names_and_order():
    data = _windows(n_subjects=1)
    bands = {"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}
    lagged = EnvelopeFeatureExtractor(bands=bands, lags=[0.0, 1.0, 3.0]).fit(data.X)
    names = lagged.get_feature_names_out()
    assert names[:4].tolist() == [
        "Cz_alpha_t-0.0s",
        "Cz_alpha_t-1.0s",
        "Cz_alpha_t-3.0s",
        "Cz_beta_t-0.0s",
    ]
    assert names.size == 3 * 2 * 3
    features = lagged.transform(data.X)
    assert features.shape == (len(data.X), 18)
    series = EnvelopeFeatureExtractor(bands=bands, layout="series", out_sfreq=1.0).fit(data.X)
    out = series.transform(data.X)
    assert out.shape == (len(data.X), 6, 10)
    assert series.get_feature_names_out().tolist()[:2] == ["Cz_alpha", "Cz_beta"]
    assert_allclose(series.lags_, np.arange(9, -1, -1.0))
    # time runs forward; the series' last sample is the lag-0 feature, its
    # third-to-last the 2 s lag (lags 0 and 1 s -> columns 0 and 1 of Cz_alpha)
    assert_allclose(out[:, 0, -1], features[:, 0], rtol=1e-6)
    assert_allclose(out[:, 0, -2], features[:, 1], rtol=1e-6)
    assert_allclose(out[:, 0, -4], features[:, 2], rtol=1e-6)


def test_log_and_standardize():
    data = _windows(n_subjects=1)
    bands = {"alpha": (8.0, 13.0)}
    plain = EnvelopeFeatureExtractor(bands=bands, dtype="float64").fit_transform(data.X)
    logged = EnvelopeFeatureExtractor(bands=bands, log=True, dtype="float64").fit_transform(data.X)
    assert_allclose(logged, np.log(plain))
    ext = EnvelopeFeatureExtractor(bands=bands, standardize=True, dtype="float64")
    z = ext.fit_transform(data.X).reshape(len(data.X), 3, -1)
    assert_allclose(z.mean(axis=(0, 2)), 0, atol=1e-9)
    assert_allclose(z.std(axis=(0, 2)), 1, atol=1e-9)
    assert ext.mean_.shape == ext.scale_.shape == (3, 1)
    assert_allclose(ext.transform(data.X).reshape(z.shape), z)


def test_parallel_dtype_and_pickle_are_consistent():
    data = _windows(n_subjects=2)
    bands = {"alpha": (8.0, 13.0), "gamma": (30.0, 45.0)}
    ext = EnvelopeFeatureExtractor(bands=bands, dtype="float64").fit(data.X)
    reference = ext.transform(data.X)
    parallel = clone(ext).set_params(n_jobs=2).fit_transform(data.X)
    assert_allclose(parallel, reference)
    single = clone(ext).set_params(dtype="float32").fit_transform(data.X)
    assert single.dtype == np.float32
    assert_allclose(single, reference, rtol=1e-4, atol=1e-5 * np.abs(reference).max())
    restored = pickle.loads(pickle.dumps(ext))
    assert_array_equal(restored.transform(data.X), reference)


def test_sfreq_from_windows_and_mismatches():
    data = _windows(n_subjects=1)
    ext = EnvelopeFeatureExtractor(bands={"alpha": (8.0, 13.0)}).fit(data.X)
    assert ext.sfreq_ == SFREQ and ext.ch_names_ == CH_NAMES
    with pytest.raises(ValueError, match="sfreq=250 disagrees"):
        EnvelopeFeatureExtractor(sfreq=250.0).fit(data.X)
    with pytest.raises(ValueError, match="sfreq is required"):
        EnvelopeFeatureExtractor().fit(np.asarray(data.X))
    other = _windows(n_subjects=1, ch_names=["Fz", "Pz", "Oz"])
    with pytest.raises(ValueError, match="channels"):
        ext.transform(other.X)
    resampled = _windows(n_subjects=1, sfreq=200.0)
    with pytest.raises(ValueError, match="200 Hz"):
        ext.transform(resampled.X)
    with pytest.raises(ValueError, match="2 channels"):
        ext.transform(np.asarray(data.X)[:, :2])
    with pytest.raises(ValueError, match="plain array.*named channels"):
        ext.transform(np.asarray(data.X))
    with pytest.raises(ValueError, match="500 samples"):
        ext.transform(
            EEGWindows.from_array(np.asarray(data.X)[:, :, :500], sfreq=SFREQ, ch_names=CH_NAMES)
        )


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(bands={"gamma": (30.0, 60.0)}), "sfreq/2 = 50"),
        (dict(bands=[(8.0, 4.0)]), "0 < l_freq < h_freq"),
        (dict(bands="alpha"), "bands must be a dict"),
        (dict(lags=[0.0, 12.0]), r"lags must lie in \[0, 9.99\]"),
        (dict(lags=[1.0, 1.0]), "duplicates"),
        (dict(lags=[1.0], layout="series"), "lagged"),
        (dict(layout="wide"), "layout must be one of"),
        (dict(envelope="square"), "envelope must be one of"),
        (dict(smoothing=20.0), "longer than the window"),
        (dict(out_sfreq=500.0), "exceeds sfreq"),
        (dict(dtype="int8"), "dtype"),
    ],
)
def test_bad_parameters_are_named(params, match):
    X = np.zeros((2, 1, 1000))
    with pytest.raises((ValueError, TypeError), match=match):
        EnvelopeFeatureExtractor(sfreq=SFREQ, **params).fit(X)


def test_bad_input():
    ext = EnvelopeFeatureExtractor(sfreq=SFREQ)
    with pytest.raises(ValueError, match="3-D"):
        ext.fit(np.zeros((10, 1000)))
    X = np.zeros((2, 1, 1000))
    X[0, 0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ext.fit(X)


@pytest.mark.parametrize(
    "estimator",
    [
        EnvelopeFeatureExtractor(sfreq=SFREQ, bands={"alpha": (8, 13)}, standardize=True),
        EnvelopeFeatureExtractor(sfreq=SFREQ, bands={"beta": (13, 30)}, layout="series"),
        HRFConvolution(sfreq=2.0, hrf_model="spm + derivative"),
    ],
    ids=["lagged", "series", "hrf"],
)
def test_three_d_contract(estimator):
    """The sklearn common checks that need 2-D X, redone on 3-D windows."""
    rng = np.random.default_rng(0)
    n_times = 1000 if isinstance(estimator, EnvelopeFeatureExtractor) else 20
    X = rng.standard_normal((12, 2, n_times))
    params = estimator.get_params()
    est = clone(estimator)
    assert est.fit(X) is est  # fit returns self
    assert est.get_params() == params  # parameters untouched
    out = est.transform(X)
    assert out.shape[0] == X.shape[0]  # never adds or drops rows
    assert_array_equal(clone(estimator).fit(X).transform(X), out)  # deterministic
    assert_array_equal(est.fit(X).transform(X), out)  # fit is idempotent
    assert_allclose(clone(estimator).fit_transform(X), out, rtol=1e-6)
    perm = rng.permutation(12)
    assert_allclose(est.transform(X[perm]), out[perm], rtol=1e-6)  # row order
    assert_allclose(est.transform(X[:5]), out[:5], rtol=1e-6)  # subsets
    readonly = X.copy()
    readonly.flags.writeable = False
    assert_allclose(clone(estimator).fit(readonly).transform(readonly), out, rtol=1e-6)
    assert_allclose(est.transform(np.asfortranarray(X)), out, rtol=1e-6)
    assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), out)
    assert len(est.get_feature_names_out()) == (out.shape[1])
    with pytest.raises(ValueError, match="NaN"):
        bad = X.copy()
        bad[3, 1, 7] = np.inf
        clone(estimator).fit(bad)
    with pytest.raises(ValueError, match="3-D"):
        clone(estimator).fit(X[:, 0])
    with pytest.raises(TypeError, match="sparse"):
        import scipy.sparse

        clone(estimator).fit(scipy.sparse.csr_matrix(X[:, 0]))
    unfitted = clone(estimator)
    with pytest.raises(Exception, match="not fitted"):
        unfitted.transform(X)
