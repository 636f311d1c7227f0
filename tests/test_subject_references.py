"""Per-subject references (SubjectAlignment, BandCovariances): rank-deficient EEG,
flat channels, subject labels and channel gains."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skeeg2bold import EEGWindows, Recording, make_windows
from skeeg2bold._validation import UNKNOWN_SUBJECT
from skeeg2bold.baselines import make_riemann_baseline
from skeeg2bold.features import BandCovariances, SubjectAlignment
from skeeg2bold.features._subject import SubjectLabelWarning

SFREQ = 100.0
N_CH = 6
NAMES = [f"E{i}" for i in range(N_CH)]
HYPOTHESIS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _windows(rank=N_CH, n_subjects=3, duration=40.0, seed=0, dtype=None, transform=None):
    """Windows of noise EEG of the given rank, each subject its own mixing."""
    rng = np.random.default_rng(seed)
    recs = []
    for k in range(n_subjects):
        n = int(duration * SFREQ)
        eeg = rng.standard_normal((N_CH, rank)) @ rng.standard_normal((rank, n))
        if transform is not None:
            eeg = transform(eeg)
        onsets = np.arange(8.0, duration, 2.0)
        bold = rng.standard_normal((len(onsets), 2))
        recs.append(Recording(eeg, bold, onsets, sfreq=SFREQ, ch_names=NAMES, subject=f"s{k}"))
    return make_windows(recs, window=4.0, dtype=dtype)


def _average_reference(eeg):
    return eeg - eeg.mean(axis=0, keepdims=True)


def _mean_cov(x):
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    return np.mean(x @ x.transpose(0, 2, 1) / x.shape[-1], axis=0)


# -- rank-deficient EEG ------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_alignment_of_average_referenced_eeg_whitens_its_subspace(dtype):
    data = _windows(dtype=dtype, transform=_average_reference)
    out = np.asarray(SubjectAlignment().fit_transform(data.X))
    assert np.all(np.isfinite(out))
    centring = np.eye(N_CH) - 1.0 / N_CH  # the average reference's projection
    for s in np.unique(data.groups):
        # identity on the n-1 dimensional subspace the EEG spans, zero outside
        np.testing.assert_allclose(_mean_cov(out[data.groups == s]), centring, atol=1e-3)


@HYPOTHESIS
@given(
    rank=st.integers(1, N_CH - 1),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_alignment_of_rank_deficient_eeg_property(rank, dtype, seed):
    data = _windows(rank=rank, n_subjects=2, duration=30.0, seed=seed, dtype=dtype)
    out = np.asarray(SubjectAlignment().fit_transform(data.X))
    assert out.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out))
    for s in np.unique(data.groups):
        eigenvalues = np.linalg.eigvalsh(_mean_cov(out[data.groups == s]))
        # the spanned directions whitened, the empty ones left (near) empty
        np.testing.assert_allclose(eigenvalues[-rank:], 1.0, atol=1e-3)
        assert np.all(np.abs(eigenvalues[:-rank]) < 1e-3)


def test_aligned_average_referenced_eeg_predicts_as_full_rank_eeg():
    """Alignment of average-referenced EEG = alignment of the full-rank EEG, seen
    through the average reference: the same downstream features."""
    full = _windows(dtype="float32")
    avg = _windows(dtype="float32", transform=_average_reference)
    a_full = np.asarray(SubjectAlignment().fit_transform(full.X))
    a_avg = np.asarray(SubjectAlignment().fit_transform(avg.X))
    # Both are whitened versions of the same sources: the aligned average-
    # referenced EEG is the aligned full EEG projected onto n-1 directions.
    for s in np.unique(full.groups):
        rows = full.groups == s
        x, z = a_full[rows].transpose(1, 0, 2).reshape(N_CH, -1), a_avg[rows]
        z = z.transpose(1, 0, 2).reshape(N_CH, -1)
        coef, *_ = np.linalg.lstsq(x.T, z.T, rcond=None)
        residual = z - coef.T @ x
        assert np.var(residual) < 1e-4 * np.var(z)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SubjectAlignment(),
        lambda: SubjectAlignment(method="scale"),
        lambda: BandCovariances(n_bins=2),
    ],
)
def test_a_flat_channel_is_refused_naming_channel_and_subject(make):
    def flat(eeg):
        eeg = eeg.copy()
        eeg[2] = 3.0  # constant: flat after each window's mean is removed
        return eeg

    data = _windows(transform=flat)
    with pytest.raises(ValueError, match=r"\['E2'\] of subject 's0' are flat"):
        make().fit(data.X)
    # and for an unseen subject at transform
    ok = _windows(seed=1)
    est = make().fit(ok.X)
    with pytest.raises(ValueError, match=r"\['E2'\] of subject 'new' are flat"):
        est.transform(_named(np.asarray(data.X)[:20], "new"))


def test_band_covariances_without_shrinkage_name_rank_deficiency():
    data = _windows(dtype="float64", transform=_average_reference)
    with pytest.raises(ValueError, match="rank-deficient EEG"):
        BandCovariances(n_bins=1, estimator="scm", recenter=False).fit(data.X)
    # with shrinkage the average reference is fine
    covs = BandCovariances(n_bins=2).fit_transform(data.X)
    assert np.all(np.isfinite(covs))


# -- channel gains -------------------------------------------------------------
@pytest.fixture(scope="module")
def riemann_model():
    data = _windows(seed=3)
    train = np.flatnonzero(data.groups != "s2")
    model = make_riemann_baseline(n_bins=2).fit(data.X[train], data.y[train])
    test = np.asarray(data.X[np.flatnonzero(data.groups == "s2")])
    return model, test, model.predict(_named(test, "s2"))


def _named(x, subject):
    return EEGWindows.from_array(x, sfreq=SFREQ, ch_names=NAMES, groups=[subject] * len(x))


@HYPOTHESIS
@given(gains=st.lists(st.floats(0.1, 10.0), min_size=N_CH, max_size=N_CH))
def test_recentring_removes_channel_gains_of_a_new_subject(riemann_model, gains):
    model, test, expected = riemann_model
    scaled = test * np.asarray(gains)[:, None]
    np.testing.assert_allclose(
        model.predict(_named(scaled, "s2")), expected, rtol=1e-6, atol=1e-8 * np.abs(expected).max()
    )


def test_one_channel_times_ten_leaves_the_riemannian_prediction(riemann_model):
    model, test, expected = riemann_model
    gains = np.ones(N_CH)
    gains[0] = 10.0
    got = model.predict(_named(test * gains[:, None], "s2"))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8 * np.abs(expected).max())


# -- subject labels ------------------------------------------------------------
def test_windows_without_labels_are_an_unknown_subject_not_a_training_one():
    data = _windows()
    s0 = np.flatnonzero(data.groups == "s0")
    for cls in (SubjectAlignment, BandCovariances):
        est = cls().fit(data.X[s0])  # the training subject is "s0"
        new = np.asarray(_windows(seed=9).X)[:20]
        unlabelled = EEGWindows.from_array(new, sfreq=SFREQ, ch_names=NAMES)
        assert set(unlabelled.groups) == {UNKNOWN_SUBJECT}
        as_new = _named(new, "new subject")
        np.testing.assert_allclose(
            np.asarray(est.transform(unlabelled)), np.asarray(est.transform(as_new))
        )
        assert UNKNOWN_SUBJECT not in est.references_
        # A fit on unlabelled windows learns no reference either.
        assert cls().fit(unlabelled).references_ == {}


def test_calibrate_refuses_unlabelled_windows_and_known_subjects_unless_replace():
    data = _windows()
    for cls in (SubjectAlignment, BandCovariances):
        est = cls().fit(data.X)
        s0 = np.asarray(data.X[np.flatnonzero(data.groups == "s0")])
        with pytest.raises(ValueError, match="needs the subject"):
            est.calibrate(EEGWindows.from_array(s0, sfreq=SFREQ, ch_names=NAMES))
        before = est.references_["s0"].copy()
        other = np.asarray(_windows(seed=4).X)[:15]
        with pytest.raises(ValueError, match=r"\['s0'\] already have a reference"):
            est.calibrate(_named(other, "s0"))
        np.testing.assert_array_equal(est.references_["s0"], before)
        est.calibrate(_named(other, "s0"), replace=True)
        assert not np.allclose(est.references_["s0"], before)


@HYPOTHESIS
@given(
    labels=st.lists(st.integers(0, 3), min_size=3, max_size=3, unique=True),
    kinds=st.lists(st.sampled_from(["int", "str", "float", "numpy"]), min_size=2, max_size=2),
)
def test_integer_and_text_labels_are_one_subject(labels, kinds):
    data = _windows()
    x = np.asarray(data.X)
    index = {s: i for i, s in enumerate(np.unique(data.groups))}
    ids = np.array([labels[index[g]] for g in data.groups])

    def spell(kind):
        if kind == "int":
            return ids.tolist()
        if kind == "float":
            return ids.astype(float)
        if kind == "numpy":
            return ids.astype(np.int64)
        return ids.astype(str)

    fit_kind, transform_kind = kinds
    for cls in (SubjectAlignment, BandCovariances):
        kwargs = {"sfreq": SFREQ} if cls is BandCovariances else {}
        est = cls(unseen_subjects="error", **kwargs).fit(x, groups=spell(fit_kind))
        assert set(est.references_) == {str(g) for g in labels}
        got = est.transform(x[:5], groups=spell(transform_kind)[:5])
        expected = est.transform(x[:5], groups=ids.astype(str)[:5])
        np.testing.assert_array_equal(got, expected)
    windows = EEGWindows.from_array(x, sfreq=SFREQ, ch_names=NAMES, groups=spell(fit_kind))
    np.testing.assert_array_equal(windows.groups, ids.astype(str))


def test_plain_arrays_without_groups_warn_that_they_are_one_subject():
    x = np.asarray(_windows().X)
    with pytest.warns(SubjectLabelWarning, match="taken as one subject"):
        SubjectAlignment().fit(x)
    with pytest.warns(SubjectLabelWarning, match="enable_metadata_routing"):
        BandCovariances(SFREQ, n_bins=2).fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SubjectAlignment().fit(x, groups=np.zeros(len(x)))  # labelled: no warning
        BandCovariances(SFREQ, n_bins=2, recenter=False).fit(x)  # no references: no warning


def test_groups_routed_to_a_pipeline_by_metadata_routing():
    import sklearn
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    data = _windows()
    x, g = np.asarray(data.X), np.asarray(data.groups)
    with sklearn.config_context(enable_metadata_routing=True):
        align = SubjectAlignment().set_fit_request(groups=True).set_transform_request(groups=True)
        covs = BandCovariances(SFREQ, n_bins=1, recenter=False).set_fit_request(groups=False)
        model = make_pipeline(align, covs)
        with warnings.catch_warnings():
            warnings.simplefilter("error", SubjectLabelWarning)
            fitted = model.fit(x, groups=g)
        assert set(fitted[0].references_) == {"s0", "s1", "s2"}
        # cross_val_predict routes the groups to the splitter and to the fit
        pipe = make_pipeline(
            SubjectAlignment().set_fit_request(groups=True).set_transform_request(groups=True),
            FunctionTransformer(lambda w: np.asarray(w).reshape(len(w), -1)),
            Ridge(),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", SubjectLabelWarning)
            pred = cross_val_predict(pipe, x, data.y[:, 0], cv=GroupKFold(3), params={"groups": g})
        assert np.all(np.isfinite(pred))
