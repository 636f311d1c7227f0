"""CovarianceOODScore: planted recording faults are out-of-distribution, clean EEG is not."""

import numpy as np
import pytest

from skeeg2bold import EEGWindows
from skeeg2bold.uncertainty import CovarianceOODScore


def _windows(n=160, n_channels=6, n_times=200, seed=0):
    """Correlated noise windows of one recording (fixed mixing, volts)."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((n_channels, n_channels))
    return 1e-5 * np.einsum("ij,njt->nit", mixing, rng.standard_normal((n, n_channels, n_times)))


@pytest.fixture(scope="module")
def fitted():
    X = _windows()
    return CovarianceOODScore(alpha=0.01).fit(X[:120]), X[120:]


def test_p_value_is_the_rank_among_held_out_reference_distances(fitted):
    score, _ = fitted
    null = score.null_distances_
    assert null.size == 120 and np.all(np.diff(null) >= 0)
    np.testing.assert_allclose(score._p(np.array([-1.0, null[-1] + 1])), [1.0, 1 / 121])
    np.testing.assert_allclose(score._p(null[[39]]), (1 + 81) / 121)


def test_clean_windows_are_in_distribution(fitted):
    score, clean = fitted
    assert score.predict(clean).mean() <= 0.1


@pytest.mark.parametrize(
    "fault",
    ["gain10", "microvolts_as_volts", "swapped_pair", "electrode_pop", "flat"],
)
def test_planted_faults_are_out_of_distribution(fitted, fault):
    score, clean = fitted
    X = clean.copy()
    if fault == "gain10":
        X *= 10
    elif fault == "microvolts_as_volts":
        X *= 1e6
    elif fault == "swapped_pair":
        X[:, [0, 3]] = X[:, [3, 0]]
    elif fault == "electrode_pop":
        X[:, 2, 50:] += 3e-4 * np.exp(-np.arange(150) / 40.0)
    else:
        X[:] = 0.0
    assert score.predict(X).all()
    assert np.all(score.p_value(X) == 1 / 121)


def test_each_subject_is_compared_with_its_own_reference():
    a, b = _windows(seed=1), 50 * _windows(seed=2)
    X = EEGWindows.from_array(
        np.concatenate([a, b]),
        sfreq=100.0,
        ch_names=list("abcdef"),
        groups=["s1"] * len(a) + ["s2"] * len(b),
    )
    score = CovarianceOODScore().fit(X)
    assert set(score.references_) == {"s1", "s2"}
    # s2's EEG is in distribution for s2 and far out for s1.
    assert score.predict(b[:20], groups=["s2"] * 20).mean() <= 0.1
    assert score.predict(b[:20], groups=["s1"] * 20).all()
    with pytest.raises(ValueError, match="subject 's3' has no reference EEG"):
        score.score_samples(b[:2], groups=["s3"] * 2)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least 2 \\* n_blocks"):
        CovarianceOODScore().fit(_windows(n=3))
    with pytest.raises(ValueError, match="alpha=0.01 can flag no window with 20"):
        CovarianceOODScore().fit(_windows(n=20))
    score = CovarianceOODScore(alpha=0.1).fit(_windows(n=20))
    with pytest.raises(ValueError, match="X has 5 channels"):
        score.score_samples(_windows(n=2, n_channels=5))
    with pytest.raises(ValueError, match="NaN or infinite"):
        score.score_samples(np.full((1, 6, 200), np.nan))
    with pytest.raises(ValueError, match="alpha"):
        CovarianceOODScore(alpha=-1).fit(_windows(n=20))
