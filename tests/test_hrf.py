"""HRFConvolution: nilearn's canonical responses applied to envelope series."""

import numpy as np
import pytest
from nilearn.glm.first_level import glover_hrf, spm_hrf
from numpy.testing import assert_allclose
from sklearn.pipeline import make_pipeline

from skeeg2bold.features import EnvelopeFeatureExtractor, HRFConvolution


@pytest.mark.parametrize("model, func", [("glover", glover_hrf), ("spm", spm_hrf)])
def test_kernel_is_nilearn_hrf_at_the_series_rate(model, func):
    sfreq = 2.0
    hrf = HRFConvolution(sfreq=sfreq, hrf_model=model).fit(np.zeros((1, 1, 80)))
    kernel = hrf.kernels_[0]
    assert kernel.shape == (64,)  # 32 s at 2 Hz
    # nilearn on a 0.01 s grid, read every 0.5 s
    fine = func(0.5, oversampling=50, time_length=32.0)
    assert_allclose(kernel, fine[::50] * 50)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-3)
    assert 4.5 <= np.argmax(kernel) / sfreq <= 5.5  # canonical peak near 5 s


def test_value_at_window_end_is_the_convolution():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 3, 80))
    hrf = HRFConvolution(sfreq=2.0, hrf_model="glover + derivative + dispersion").fit(X)
    out = hrf.transform(X).reshape(4, 3, 3)
    for basis in range(3):
        full = np.apply_along_axis(np.convolve, -1, X, hrf.kernels_[basis])
        assert_allclose(out[..., basis], full[..., X.shape[-1] - 1])


def test_impulse_response_and_truncation():
    X = np.zeros((1, 1, 20))  # a 10 s window at 2 Hz
    X[0, 0, -11] = 1.0  # impulse 5 s before the window end
    hrf = HRFConvolution(sfreq=2.0).fit(X)
    assert hrf.kernels_.shape == (1, 20)  # 32 s HRF truncated to the window
    assert hrf.transform(X)[0, 0] == pytest.approx(hrf.kernels_[0, 10])
    assert hrf.transform(X)[0, 0] == pytest.approx(hrf.kernels_[0].max(), rel=0.05)


def test_names_chain_through_a_pipeline():
    X = np.random.default_rng(1).standard_normal((3, 2, 1000))
    pipe = make_pipeline(
        EnvelopeFeatureExtractor(sfreq=100.0, bands={"alpha": (8, 13)}, layout="series"),
        HRFConvolution(sfreq=2.0, hrf_model="spm + derivative"),
    )
    out = pipe.fit_transform(X)
    assert out.shape == (3, 4)
    assert pipe.get_feature_names_out().tolist() == [
        "ch0_alpha_hrf",
        "ch0_alpha_hrf_derivative",
        "ch1_alpha_hrf",
        "ch1_alpha_hrf_derivative",
    ]


def test_rate_travels_from_the_envelopes(tmp_path):
    import pickle

    from sklearn.base import clone

    X = np.random.default_rng(2).standard_normal((3, 2, 1000))
    ext = EnvelopeFeatureExtractor(
        sfreq=100.0, bands={"alpha": (8, 13)}, layout="series", out_sfreq=4.0
    )
    series = ext.fit_transform(X)
    assert series.sfreq == 4.0 and series[:2].sfreq == 4.0
    assert type(np.asarray(series)) is np.ndarray
    assert pickle.loads(pickle.dumps(series)).sfreq == 4.0  # survives joblib's caches
    # No sfreq on the HRF step: it samples its kernel at the envelopes' 4 Hz...
    pipe = make_pipeline(clone(ext), HRFConvolution(), memory=str(tmp_path))
    out = pipe.fit_transform(X)
    assert pipe[-1].sfreq_ == 4.0
    told = make_pipeline(clone(ext), HRFConvolution(sfreq=4.0)).fit_transform(X)
    assert_allclose(out, told)
    assert_allclose(
        make_pipeline(clone(ext), HRFConvolution(), memory=str(tmp_path)).fit_transform(X), out
    )  # from the cache, rate included
    # ...so changing the extractor's rate alone changes the kernel with it.
    pipe.set_params(envelopefeatureextractor__out_sfreq=2.0).fit(X)
    assert pipe[-1].sfreq_ == 2.0
    # A rate that contradicts the envelopes is refused, at fit and at transform.
    with pytest.raises(ValueError, match="sfreq=2 disagrees"):
        HRFConvolution(sfreq=2.0).fit(series)
    hrf = HRFConvolution(sfreq=4.0).fit(np.asarray(series))
    with pytest.raises(ValueError, match="X.sfreq=2"):
        hrf.transform(ext.set_params(out_sfreq=2.0).fit_transform(X))


@pytest.mark.parametrize(
    "params, X, match",
    [
        (dict(), np.zeros((2, 1, 10)), "sfreq is required .* EnvelopeFeatureExtractor"),
        (dict(sfreq=2.0, hrf_model="fir"), np.zeros((2, 1, 10)), "hrf_model must be one of"),
        (dict(sfreq=2.0, time_length=-1.0), np.zeros((2, 1, 10)), "time_length"),
        (dict(sfreq=2.0), np.zeros((2, 1, 1)), "at least 2"),
        (dict(sfreq=2.0), np.zeros((2, 10)), "3-D"),
    ],
)
def test_bad_input_is_named(params, X, match):
    with pytest.raises(ValueError, match=match):
        HRFConvolution(**params).fit(X)


def test_shape_mismatch_at_transform():
    hrf = HRFConvolution(sfreq=2.0).fit(np.zeros((2, 3, 20)))
    with pytest.raises(ValueError, match="fitted on 3 of 20"):
        hrf.transform(np.zeros((2, 4, 20)))
