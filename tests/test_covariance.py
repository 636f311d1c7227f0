"""BandCovariances, TangentSpaceFeatures, SubjectAlignment and the Riemannian baseline."""

import numpy as np
import pytest
from pyriemann.geometry.covariance import covariances
from pyriemann.geometry.distance import distance_riemann
from pyriemann.geometry.mean import mean_riemann

from skeeg2bold import Recording, make_windows
from skeeg2bold.baselines import make_riemann_baseline
from skeeg2bold.features import BandCovariances, SubjectAlignment, TangentSpaceFeatures
from skeeg2bold.features._covariance import _oas_cospectrum
from skeeg2bold.metrics import pearson_r

from _helpers import source_power_recordings

SFREQ = 100.0


def _recordings(n_subjects=3, duration=60.0, seed=0, scales=None):
    """Noise EEG, each subject with its own channel mixing and gain."""
    rng = np.random.default_rng(seed)
    recs = []
    for k in range(n_subjects):
        n = int(duration * SFREQ)
        mixing = rng.standard_normal((6, 6)) * (1.0 if scales is None else scales[k])
        eeg = mixing @ rng.standard_normal((6, n))
        onsets = np.arange(12.0, duration, 2.0)
        bold = rng.standard_normal((len(onsets), 2))
        recs.append(
            Recording(
                eeg,
                bold,
                onsets,
                sfreq=SFREQ,
                ch_names=[f"E{i}" for i in range(6)],
                subject=f"s{k}",
            )
        )
    return recs


@pytest.fixture(scope="module")
def windows():
    return make_windows(_recordings(), window=4.0).X


def test_oas_cospectrum_equals_pyriemann():
    rng = np.random.default_rng(1)
    for n_freqs in (1, 3, 12, 80):
        shape = (4, 5, 7, n_freqs)
        coef = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        np.testing.assert_allclose(
            _oas_cospectrum(coef),
            covariances(coef, estimator="oas", assume_centered=True).real,
            rtol=1e-10,
            atol=1e-12,
        )


def test_band_covariance_finds_the_topography_of_a_rhythm():
    # A 10 Hz rhythm with topography a, in white noise: the alpha matrix's
    # leading eigenvector is a; the beta matrix's is not.
    rng = np.random.default_rng(2)
    t = np.arange(int(4 * SFREQ)) / SFREQ
    a = rng.standard_normal(6)
    a /= np.linalg.norm(a)
    X = np.stack(
        [
            np.outer(a, 3 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6)))
            + 0.3 * rng.standard_normal((6, t.size))
            for _ in range(5)
        ]
    )
    covs = BandCovariances(SFREQ, recenter=False, n_bins=2).fit_transform(X)
    assert covs.shape == (5, 5, 2, 6, 6)
    alpha, beta = 2, 3
    for w in range(5):
        for b in range(2):
            vals, vecs = np.linalg.eigh(covs[w, alpha, b])
            assert abs(vecs[:, -1] @ a) > 0.99
            assert vals[-1] > 50 * np.linalg.eigvalsh(covs[w, beta, b])[-1]
            assert abs(np.linalg.eigh(covs[w, beta, b])[1][:, -1] @ a) < 0.99


def test_bins_end_at_the_window_end():
    # A burst in the last second shows in the last bin only.
    t = np.arange(int(4 * SFREQ)) / SFREQ
    x = np.zeros((1, 2, t.size))
    x[0, 0] = np.where(t >= 3.0, np.sin(2 * np.pi * 10 * t), 0.0)
    x[0, 1] = 1e-3 * np.random.default_rng(0).standard_normal(t.size)
    covs = BandCovariances(SFREQ, recenter=False, n_bins=4).fit_transform(x)
    power = covs[0, 2, :, 0, 0]  # alpha, every bin, channel 0
    assert power[-1] > 1e3 * power[:-2].max()


def test_eegwindows_equal_plain_arrays(windows):
    est = BandCovariances(n_bins=2)
    from_windows = est.fit_transform(windows)
    from_arrays = BandCovariances(SFREQ, n_bins=2).fit_transform(
        np.asarray(windows), groups=windows.groups
    )
    np.testing.assert_allclose(from_windows, from_arrays, rtol=1e-6, atol=1e-9)
    # and on new windows of a seen subject
    np.testing.assert_allclose(est.transform(windows[:7]), from_windows[:7], rtol=1e-6, atol=1e-9)


def test_recentring_at_each_subjects_riemannian_mean(windows):
    est = BandCovariances(n_bins=2)
    covs = est.fit_transform(windows)
    for s in np.unique(windows.groups):
        rows = windows.groups == s
        # the matrices of the subject's windows, each channel divided by its
        # standard deviation over the subject's windows, times the common profile
        dense = np.asarray(windows[np.flatnonzero(rows)])
        sd = np.sqrt(np.mean(dense.var(axis=-1), axis=0))
        np.testing.assert_allclose(est.channel_scales_[s], sd, rtol=1e-6)
        scale = sd / est.channel_profile_
        raw = BandCovariances(SFREQ, n_bins=2, recenter=False).fit_transform(dense / scale[:, None])
        for b in range(covs.shape[1]):
            ref = mean_riemann(raw[:, b].reshape(-1, 6, 6))
            assert distance_riemann(est.references_[s][b], ref) < 1e-4
            centred = mean_riemann(covs[rows, b].reshape(-1, 6, 6))
            np.testing.assert_allclose(centred, np.eye(6), atol=1e-3)


def test_recentring_uses_no_bold_and_no_other_subject():
    recs = _recordings()
    data = make_windows(recs, window=4.0)
    est = BandCovariances(n_bins=2).fit(data.X, data.y)
    # Another BOLD, and another gain for s1 and s2, leave s0 untouched: the
    # only statistic shared by the subjects, the channel profile, changes by
    # a global factor, which the shrinkage and the re-centring remove.
    other = [
        Recording(
            r.eeg * (1 if k == 0 else 50),
            r.bold + 3.0,
            r.volume_times,
            sfreq=SFREQ,
            ch_names=r.ch_names,
            subject=r.subject,
        )
        for k, r in enumerate(recs)
    ]
    data2 = make_windows(other, window=4.0)
    est2 = BandCovariances(n_bins=2).fit(data2.X, -data2.y)
    s0 = data.groups == "s0"
    np.testing.assert_allclose(est.transform(data.X[s0]), est2.transform(data2.X[s0]), rtol=1e-6)
    np.testing.assert_allclose(est.channel_scales_["s0"], est2.channel_scales_["s0"])
    # Another BOLD alone changes nothing at all.
    est3 = BandCovariances(n_bins=2).fit(data.X, -data.y + 3.0)
    np.testing.assert_array_equal(est.references_["s0"], est3.references_["s0"])
    # A subject's reference is its own: another EEG for s1 changes s1's.
    assert not np.allclose(est.references_["s1"], est2.references_["s1"])


def test_unseen_subject_reference_from_its_own_eeg(windows):
    seen = windows.groups != "s2"
    est = BandCovariances(n_bins=2).fit(windows[seen])
    alone = est.transform(windows[~seen])
    mixed = est.transform(windows)  # seen subjects in the same call change nothing for s2
    np.testing.assert_allclose(mixed[~seen], alone)
    centred = mean_riemann(alone[:, 0].reshape(-1, 6, 6))
    np.testing.assert_allclose(centred, np.eye(6), atol=1e-3)
    assert "s2" not in est.references_  # transform learns nothing

    strict = BandCovariances(n_bins=2, unseen_subjects="error").fit(windows[seen])
    with pytest.raises(ValueError, match="subject 's2' was not seen"):
        strict.transform(windows[~seen])
    strict.transform(windows[seen])  # seen subjects are fine


def test_groups_for_plain_arrays_and_their_checks(windows):
    X = np.asarray(windows)
    with pytest.raises(ValueError, match="groups must be 1-D with one subject per window"):
        BandCovariances(SFREQ).fit(X, groups=windows.groups[:-1])
    with pytest.raises(ValueError, match="groups disagrees with X.groups"):
        BandCovariances().fit(windows, groups=windows.groups[::-1])
    with pytest.raises(ValueError, match="sfreq is required"):
        BandCovariances().fit(X)
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        BandCovariances(n_bins=0).fit(windows)
    with pytest.raises(ValueError, match="holds no Fourier frequency"):
        BandCovariances(n_bins=8, bands={"narrow": (10.2, 10.8)}).fit(windows)
    with pytest.raises(ValueError, match="unseen_subjects"):
        BandCovariances(unseen_subjects="maybe").fit(windows)
    est = BandCovariances(n_bins=2).fit(windows)
    shuffled = make_windows(
        [
            Recording(
                r.eeg[::-1],
                r.bold,
                r.volume_times,
                sfreq=SFREQ,
                ch_names=r.ch_names[::-1],
                subject=r.subject,
            )
            for r in _recordings()
        ],
        window=4.0,
    ).X
    # The same channels in another order are put back in the fitted order.
    np.testing.assert_allclose(est.transform(shuffled), est.transform(windows))
    with pytest.raises(ValueError, match="plain array"):
        est.transform(X)


def test_tangent_space_features(windows):
    covs = BandCovariances(n_bins=2).fit_transform(windows)
    ts = TangentSpaceFeatures().fit(covs)
    vectors = ts.transform(covs)
    assert vectors.shape == (len(windows), 5 * 2 * 21)
    np.testing.assert_allclose(ts.references_[0], np.eye(6), atol=1e-2)
    # The tangent vector of the reference itself is zero.
    at_ref = np.broadcast_to(ts.references_[:, None], (5, 2, 6, 6))[None]
    np.testing.assert_allclose(ts.transform(at_ref), 0.0, atol=1e-9)
    with pytest.raises(ValueError, match="covariance matrices of shape"):
        ts.transform(covs[:, 0])
    with pytest.raises(ValueError, match="fitted on 5 bands"):
        ts.transform(covs[:, :2])


def test_riemann_baseline_recovers_a_source_power_target():
    # BOLD-like target = power of one mixed alpha source; channel envelopes
    # see it through the mixing, the Riemannian pipeline finds it.
    recs = source_power_recordings(
        3, n_subjects=3, duration=120.0, n_chans=6, n_noise=2, first_onset=12.0
    )
    data = make_windows(recs, window=4.0)
    train = data.groups != "s2"
    model = make_riemann_baseline(n_bins=2).fit(data.X[train], data.y[train])
    r = pearson_r(data.y[~train], model.predict(data.X[~train]))
    assert r[0] > 0.8
    assert [n for n, _ in model.steps] == ["bandcovariances", "tangentspacefeatures", "ridgecv"]
    scaled = make_riemann_baseline(n_bins=2, scale=True)
    assert [n for n, _ in scaled.steps][-2:] == ["standardscaler", "ridgecv"]
    with pytest.raises(TypeError, match="scale"):
        make_riemann_baseline(scale="yes")


def test_subject_alignment_whitens_each_subject():
    recs = _recordings(scales=[1.0, 10.0, 0.1])
    data = make_windows(recs, window=4.0)
    eeg_before = [r.eeg.copy() for r in recs]
    align = SubjectAlignment().fit(data.X)
    out = align.transform(data.X)
    assert type(out).__name__ == "EEGWindows"
    dense = np.asarray(out)
    for s in np.unique(data.groups):
        w = dense[data.groups == s]
        w = w - w.mean(axis=-1, keepdims=True)
        mean_cov = np.mean(w @ w.transpose(0, 2, 1) / w.shape[-1], axis=0)
        # the identity, up to the 1e-8 shrinkage of the reference
        np.testing.assert_allclose(mean_cov, np.eye(6), atol=1e-4)
    for r, before in zip(recs, eeg_before):
        np.testing.assert_array_equal(r.eeg, before)  # the input is not changed
    # Plain arrays with groups give the same windows.
    plain = SubjectAlignment().fit(np.asarray(data.X), groups=data.groups)
    np.testing.assert_allclose(
        plain.transform(np.asarray(data.X), groups=data.groups), dense, rtol=1e-6, atol=1e-9
    )


def test_subject_alignment_unseen_subjects(windows):
    seen = windows.groups != "s2"
    align = SubjectAlignment().fit(windows[seen])
    np.testing.assert_allclose(
        np.asarray(align.transform(windows))[~seen],
        np.asarray(align.transform(windows[~seen])),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="subject 's2' was not seen"):
        SubjectAlignment(unseen_subjects="error").fit(windows[seen]).transform(windows)


def test_an_unseen_subject_needs_enough_windows_for_a_reference(windows):
    seen = windows.groups != "s2"
    est = BandCovariances(n_bins=2).fit(windows[seen])
    s2 = np.flatnonzero(~seen)
    with pytest.raises(ValueError, match="only 1 window"):
        est.transform(windows[s2[:1]])
    est.transform(windows[s2[:10]])
    with pytest.raises(ValueError, match="only 3 window"):
        SubjectAlignment().fit(windows[seen]).transform(windows[s2[:3]])


def test_calibrate_adds_a_subject_from_its_eeg_alone(windows):
    seen = windows.groups != "s2"
    calibration = windows[np.flatnonzero(~seen)[:12]]
    for cls in (BandCovariances, SubjectAlignment):
        est = cls(unseen_subjects="error").fit(windows[seen])
        before = {k: v.copy() for k, v in est.references_.items()}
        with pytest.raises(ValueError, match="not seen"):
            est.transform(calibration)
        est.calibrate(calibration)
        assert set(est.references_) == {"s0", "s1", "s2"}
        for k, v in before.items():
            np.testing.assert_array_equal(est.references_[k], v)
        # The same reference as an unseen subject gets from the same windows,
        # and now a single window can be transformed.
        unseen = cls().fit(windows[seen])
        np.testing.assert_allclose(
            np.asarray(est.transform(calibration)), np.asarray(unseen.transform(calibration))
        )
        est.transform(calibration[:1])


def test_subject_alignment_scale_equalises_channel_gains_without_mixing():
    recs = _recordings(scales=[1.0, 10.0, 0.1])
    data = make_windows(recs, window=4.0)
    dense = np.asarray(SubjectAlignment(method="scale").fit_transform(data.X))
    raw = np.asarray(data.X)
    for s in np.unique(data.groups):
        w = dense[data.groups == s]
        w = w - w.mean(axis=-1, keepdims=True)
        np.testing.assert_allclose(np.mean(w**2, axis=(0, 2)), 1.0, rtol=1e-6)
        # each output channel is its input channel times a constant
        ratio = dense[data.groups == s] / raw[data.groups == s]
        np.testing.assert_allclose(ratio, ratio[:1, :, :1] * np.ones_like(ratio), rtol=1e-5)
    with pytest.raises(ValueError, match="method"):
        SubjectAlignment(method="zca").fit(data.X)


def test_calibrate_without_references_is_refused(windows):
    with pytest.raises(ValueError, match="no per-subject references"):
        BandCovariances(n_bins=2, recenter=False).fit(windows).calibrate(windows)
