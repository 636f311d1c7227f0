"""Chance level: models trained on temporally unrelated pairs score near zero."""

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skeeg2bold import Recording, make_windows
from skeeg2bold.metrics import pearson_r
from skeeg2bold.model_selection._chance import chance_level
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor

SFREQ = 50.0


def _log_power(X):
    return np.log(np.var(np.asarray(X), axis=2))


def _windows(n_subjects=2, duration=300.0, seed=0):
    """Channel-0 power drives the targets: learnable when pairs are intact."""
    rng = np.random.default_rng(seed)
    n = int(duration * SFREQ)
    sos = butter(2, 0.05, fs=SFREQ, output="sos")
    recordings = []
    for s in range(n_subjects):
        amp = np.exp(2 * sosfiltfilt(sos, rng.standard_normal(n)) / 0.1)
        eeg = rng.standard_normal((3, n))
        eeg[0] *= amp
        volume_times = np.arange(3.0, duration, 2.0)
        drive = np.log(np.interp(volume_times, np.arange(n) / SFREQ, amp))
        bold = np.column_stack([drive, -drive]) + 0.1 * rng.standard_normal((drive.size, 2))
        recordings.append(
            Recording(
                eeg, bold, volume_times, sfreq=SFREQ, ch_names=["C3", "Cz", "C4"], subject=f"s{s}"
            )
        )
    return make_windows(recordings, window=2.0)


@pytest.fixture(scope="module")
def data():
    return _windows()


def test_chance_is_near_zero_where_the_real_model_is_not(data):
    model = make_pipeline(FunctionTransformer(_log_power), Ridge(alpha=1.0))
    result = chance_level(model, data.X, data.y, n_repeats=8, random_state=0)
    assert result.scores.shape == (8, 2)
    assert result.mean.shape == result.std.shape == result.upper.shape == (2,)
    assert np.all(np.abs(result.mean) < 0.2)
    np.testing.assert_allclose(result.upper, np.percentile(result.scores, 95, axis=0))
    # The same model on intact pairs is far above that.
    half = data.bold_times < 200
    real = pearson_r(data.y[~half], model.fit(data.X[half], data.y[half]).predict(data.X[~half]))
    assert np.all(real > result.upper + 0.3)


def test_reproducible_and_works_with_the_deep_regressor(data):
    reg = EEG2BoldRegressor(
        CompactNet, max_epochs=2, random_state=0, module__n_branches=2, module__n_lags=2
    )
    first = chance_level(reg, data.X, data.y[:, 0], n_repeats=1, random_state=1)
    second = chance_level(reg, data.X, data.y[:, 0], n_repeats=1, random_state=1)
    assert first.scores.shape == (1, 1)
    np.testing.assert_array_equal(first.scores, second.scores)


def test_pairs_are_shifted_beyond_the_minimum(data):
    """Every training pair's BOLD comes from at least min_shift seconds away."""
    seen = {}

    class Recorder(Ridge):
        def fit(self, X, y):
            seen["times"], seen["groups"], seen["y"] = X.times, X.groups, y
            return super().fit(_log_power(X), y)

        def predict(self, X):
            return super().predict(_log_power(X))

    chance_level(Recorder(), data.X, data.y[:, 0], n_repeats=1, min_shift=30.0, random_state=2)
    # Noisy targets are unique, so each value tells which window it came from.
    origin = {(g, v): t for g, t, v in zip(data.groups, data.times, data.y[:, 0])}
    source_times = np.array([origin[g, v] for g, v in zip(seen["groups"], seen["y"])])
    assert np.all(np.abs(source_times - seen["times"]) >= 30.0 - 1e-9)


def test_plain_arrays_and_errors():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 2, 10)), rng.standard_normal(100)
    model = make_pipeline(FunctionTransformer(_log_power), Ridge())
    result = chance_level(
        model, X, y, groups=np.repeat([0, 1], 50), n_repeats=2, min_shift=5, random_state=0
    )
    assert result.scores.shape == (2, 1)
    with pytest.raises(ValueError, match="too short"):
        chance_level(model, X, y, min_shift=40)
    with pytest.raises(ValueError, match="n_repeats"):
        chance_level(model, X, y, n_repeats=0)
    with pytest.raises(ValueError, match="shape"):
        chance_level(model, X, y[:-1])


def test_chance_is_not_biased_by_subject_offsets():
    # Each run's BOLD is demeaned over the run, so a subject's early (training)
    # block mean predicts the opposite sign for its late (test) block; scored
    # pooled over subjects, a model that learns subject offsets would look
    # worse than chance. Scored within subjects it must sit near zero.
    rng = np.random.default_rng(3)
    recordings = []
    sos = butter(2, 0.02, fs=0.5, output="sos")
    for s in range(8):
        n_vol = 150
        volume_times = 3.0 + 2.0 * np.arange(n_vol)
        bold = sosfiltfilt(sos, rng.standard_normal((n_vol, 2)), axis=0) * 5
        bold += np.linspace(-1, 1, n_vol)[:, None] * rng.choice([-3, 3])  # slow trend per run
        bold -= bold.mean(axis=0)
        eeg = rng.standard_normal((3, int(310 * SFREQ)))
        eeg *= rng.uniform(0.5, 2.0)  # subject-specific EEG scale: subject identity is learnable
        recordings.append(
            Recording(
                eeg, bold, volume_times, sfreq=SFREQ, ch_names=["C3", "Cz", "C4"], subject=f"s{s}"
            )
        )
    data = make_windows(recordings, window=2.0)
    model = make_pipeline(FunctionTransformer(_log_power), Ridge(alpha=1e-3))
    res = chance_level(model, data.X, data.y, n_repeats=4, random_state=0)
    assert abs(res.scores.mean()) < 0.12
