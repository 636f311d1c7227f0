"""The classical baselines: pipelines, agreement with MNE's receptive field, real scores."""

import pickle
import warnings

import numpy as np
import pytest
from mne.decoding import ReceptiveField
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline

from skeeg2bold import Recording, make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.features import EnvelopeFeatureExtractor
from skeeg2bold.metrics import mean_r_scorer

from _helpers import am_signals

BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0)}


@pytest.fixture(scope="module")
def simulated():
    """Three simulated subjects with a clear EEG-visible BOLD component."""
    from skeeg2bold.datasets import simulate_eeg_fmri

    sim = simulate_eeg_fmri(
        n_subjects=3,
        duration=200.0,
        sfreq=100.0,
        snr=5.0,
        invisible_fraction=0.0,
        subject_variability=0.0,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # volumes without 10 s of EEG are dropped
        return make_windows(sim.recordings, window=10.0)


def test_factories_return_searchable_pipelines():
    ridge = make_ridge_baseline(250.0, bands=BANDS, lags=[0.0, 2.0])
    assert isinstance(ridge, Pipeline)
    assert [n for n, _ in ridge.steps] == ["envelopefeatureextractor", "standardscaler", "ridgecv"]
    params = ridge.get_params()
    assert params["envelopefeatureextractor__bands"] == BANDS
    assert params["envelopefeatureextractor__layout"] == "lagged"
    assert params["envelopefeatureextractor__sfreq"] == 250.0
    assert params["ridgecv__cv"] == 5
    hrf = make_hrf_baseline(out_sfreq=4.0, hrf_model="spm + derivative")
    assert [n for n, _ in hrf.steps] == [
        "envelopefeatureextractor",
        "hrfconvolution",
        "standardscaler",
        "ridgecv",
    ]
    assert hrf.get_params()["envelopefeatureextractor__layout"] == "series"
    assert hrf.get_params()["hrfconvolution__sfreq"] is None  # read from the envelopes
    assert clone(hrf).get_params()["hrfconvolution__hrf_model"] == "spm + derivative"


def test_lagged_ridge_matches_mne_receptive_field():
    """Envelopes read at lags 0..K-1 steps are MNE's time-delayed features.

    Windows every 0.5 s give the envelope series at 2 Hz (lag-0 feature); the
    lagged extractor's feature ``(f, k)`` of window ``i`` must be that series
    at ``i - k``, exactly the delay embedding of ReceptiveField(tmin=0,
    tmax=(K-1)/2, sfreq=2).
    """
    sfreq, n_lags = 100.0, 8
    eeg = am_signals(3, 20000)
    volume_times = np.arange(2.0, 200.0, 1.95)
    rec = Recording(
        eeg,
        np.zeros((volume_times.size, 1)),
        volume_times,
        sfreq=sfreq,
        ch_names=["Cz", "Pz", "Oz"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = make_windows(rec, window=10.0, step=0.5).X
    bands = {"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}
    series = EnvelopeFeatureExtractor(bands=bands, lags=[0.0], dtype="float64").fit_transform(X)
    ext = EnvelopeFeatureExtractor(bands=bands, lags=np.arange(n_lags) * 0.5, dtype="float64")
    lagged = ext.fit_transform(X)
    by_lag = lagged.reshape(len(X), 6, n_lags)
    for k in range(n_lags):
        assert_allclose(
            by_lag[n_lags - 1 :, :, k], series[n_lags - 1 - k : len(X) - k], rtol=1e-12, atol=1e-12
        )

    rng = np.random.default_rng(0)
    y = lagged @ rng.standard_normal((6 * n_lags, 2))
    y += 0.5 * y.std(axis=0) * rng.standard_normal(y.shape)
    valid = slice(n_lags - 1, None)
    for estimator in (Ridge(alpha=10.0), 10.0):  # sklearn Ridge and TimeDelayingRidge
        rf = ReceptiveField(0.0, (n_lags - 1) * 0.5, 2.0, estimator=estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rf.fit(series, y)
        assert rf.valid_samples_ == valid
        mne_pred = rf.predict(series)[valid]
        # Same weights on our lagged features: same predictions up to the
        # intercept (MNE re-centres each delayed column).
        ours_with_mne_weights = lagged[valid] @ rf.coef_.reshape(2, -1).T
        offset = (mne_pred - ours_with_mne_weights).mean(axis=0)
        assert_allclose(ours_with_mne_weights + offset, mne_pred, rtol=1e-9, atol=1e-9)
        # Fitted independently: MNE also fits the first K-1 samples (delays
        # filled with the mean), so the two fits differ by a few percent.
        ours = Ridge(alpha=10.0).fit(lagged[valid], y[valid]).predict(lagged[valid])
        scale = y.std(axis=0)
        assert np.abs(ours - mne_pred).mean() < 0.02 * scale.min()
        for j in range(2):
            assert np.corrcoef(ours[:, j], mne_pred[:, j])[0, 1] > 0.999


def _time_shuffled(y, groups):
    """BOLD rolled by half a run within each subject: no EEG-BOLD coupling left,
    the same autocorrelation."""
    out = np.empty_like(y)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        out[idx] = np.roll(y[idx], idx.size // 2, axis=0)
    return out


@pytest.mark.parametrize("factory", [make_ridge_baseline, make_hrf_baseline])
def test_baselines_beat_time_shuffled_control(simulated, factory):
    data = simulated
    model = factory(bands=BANDS, out_sfreq=0.5, log=True, alphas=np.logspace(1, 5, 3), cv=3)
    cv = GroupKFold(n_splits=3)  # subject-wise: train on two subjects, test on the third
    scores = cross_val_score(
        model, data.X, data.y, groups=data.groups, cv=cv, scoring=mean_r_scorer
    )
    control = cross_val_score(
        model,
        data.X,
        _time_shuffled(data.y, data.groups),
        groups=data.groups,
        cv=cv,
        scoring=mean_r_scorer,
    )
    assert scores.min() > 0.25, scores
    assert scores.mean() > control.mean() + 0.2, (scores, control)


def test_grid_search_over_bands_and_alpha(simulated):
    data = simulated
    subset = np.flatnonzero(np.isin(data.groups, np.unique(data.groups)[:2]))
    model = make_hrf_baseline(out_sfreq=0.5, cv=2)
    grid = GridSearchCV(
        model,
        {
            "envelopefeatureextractor__bands": [{"alpha": (8.0, 13.0)}, BANDS],
            "ridgecv__alphas": [(1.0, 10.0), (1e3, 1e4)],
        },
        cv=GroupKFold(n_splits=2),
        scoring=mean_r_scorer,
    )
    grid.fit(data.X[subset], data.y[subset], groups=data.groups[subset])
    assert grid.cv_results_["mean_test_score"].shape == (4,)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_params_["envelopefeatureextractor__bands"] in ({"alpha": (8.0, 13.0)}, BANDS)
    prediction = grid.predict(data.X[:5])
    assert prediction.shape == (5, data.y.shape[1])
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    assert_allclose(restored.predict(data.X[:5]), prediction)
    names = grid.best_estimator_[:-2].get_feature_names_out()
    assert names[0] == "Fp1_alpha_hrf" or names[0] == "Fp1_theta_hrf"
