"""The twin for a new subject from EEG only: calibration, intervals and the OOD score."""

import copy
import uuid

import mne
import numpy as np
import pytest

pytest.importorskip("mne_lsl")
from mne_lsl.player import PlayerLSL

from skeeg2bold import DroppedWindowsWarning, EEGWindows, make_windows
from skeeg2bold._signature import window_signature
from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.features import SubjectAlignment
from skeeg2bold.online import OnlineTwin
from skeeg2bold.online._calibration import calibration_windows, known_subjects
from skeeg2bold.uncertainty import ConformalRegressor, CovarianceOODScore

WINDOW, STEP = 2.0, 0.5
BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0)}


@pytest.fixture(scope="module")
def aligned(small_sim):
    """Aligned ridge with intervals, fitted on the first subject only."""
    from sklearn.pipeline import make_pipeline

    with pytest.warns(DroppedWindowsWarning):
        data = make_windows(small_sim.recordings[:1], window=WINDOW, step=STEP)
    model = make_pipeline(SubjectAlignment(), make_ridge_baseline(bands=BANDS))
    return ConformalRegressor(model, coverage=0.8).fit(data.X, data.y[:, :3])


def _raw(rec, start=0.0, stop=None):
    eeg = np.asarray(rec.eeg, dtype=np.float32).astype(np.float64)
    raw = mne.io.RawArray(eeg, mne.create_info(rec.ch_names, rec.sfreq, "eeg"), verbose=False)
    return raw.crop(start, stop)


def _stream(model, raw, duration=WINDOW + 2.0, **kwargs):
    name = f"eeg-{uuid.uuid4().hex}"
    player = PlayerLSL(raw, chunk_size=10, name=name, source_id=name).start()
    rows = []
    try:
        with OnlineTwin(model, name=name, step=STEP, **kwargs) as twin:
            twin.run(duration=duration, callback=rows.append)
    finally:
        player.stop()
    return twin, rows


def _offline(model, eeg, rows, subject):
    n_times = window_signature(model).n_times
    ends = [int(np.flatnonzero(np.all(r.window[:, -1] == eeg.T, axis=1))[0]) for r in rows]
    X = np.stack([eeg[:, e - n_times + 1 : e + 1] for e in ends])
    X = EEGWindows.from_array(
        X, sfreq=100.0, ch_names=window_signature(model).ch_names, groups=[subject] * len(X)
    )
    return model.predict(X, return_interval=True)


def test_new_subject_calibrated_from_a_recording_matches_offline(small_sim, aligned):
    rec = small_sim.recordings[1]
    calibration = _raw(rec, 0.0, 30.0)
    model = copy.deepcopy(aligned)
    twin, rows = _stream(model, _raw(rec, 30.0), subject="new", calibration=calibration)
    ok = [r for r in rows if r.status in ("ok", "ood")]
    assert len(ok) >= 3
    # Offline: the same calibration on an untouched copy of the model.
    offline_model = copy.deepcopy(aligned)
    windows = calibration_windows(
        calibration, sfreq=None, ch_names=None, signature=window_signature(aligned), subject="new"
    )
    offline_model.estimator_[0].calibrate(windows)
    y, lo, hi = _offline(offline_model, _raw(rec, 30.0).get_data(), ok, "new")
    online = np.array([r.prediction for r in ok])
    assert np.max(np.abs(online - y)) <= 1e-5 * np.max(np.abs(y))
    np.testing.assert_allclose([r.lower for r in ok], lo, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose([r.upper for r in ok], hi, rtol=1e-5, atol=1e-9)
    names = twin.target_names_
    assert twin.channel_names_ == [
        *names,
        *(f"{n}_lo" for n in names),
        *(f"{n}_hi" for n in names),
        "ood_p",
    ]
    # The OOD score was fitted on the calibration windows: clean EEG is mostly in.
    assert isinstance(twin.ood_, CovarianceOODScore)
    p = np.array([r.ood_p for r in ok])
    assert np.all((p > 0) & (p <= 1)) and np.mean(p < 0.01) <= 0.5
    assert twin.stats_["calibration_windows"] == len(windows)
    assert "new" in known_subjects(twin.estimator_)


def test_new_subject_calibrated_on_the_stream_itself(small_sim, aligned):
    rec = small_sim.recordings[1]
    with pytest.warns(UserWarning, match="too few for an out-of-distribution score"):
        twin, rows = _stream(
            copy.deepcopy(aligned),
            _raw(rec),
            subject="new",
            calibration=8.0,
            duration=8.0 + WINDOW + 2.0,
        )
    assert twin.channel_names_[-1] == "ood_p" and twin.ood_ is None
    statuses = [r.status for r in rows]
    n_cal = statuses.count("calibrating")
    # Calibration rows first (every 0.25 s for 8 s), then predictions.
    assert n_cal >= 20 and set(statuses[:n_cal]) == {"calibrating"}
    assert set(statuses[n_cal:]) == {"ok"} and np.isnan(rows[-1].ood_p)
    first = rows[n_cal]
    assert first.timestamp - rows[0].timestamp >= 8.0 - WINDOW - 0.5
    assert np.isfinite(first.prediction).all() and np.all(first.lower < first.upper)
    assert twin.stats_["calibration_windows"] == n_cal


def test_unknown_subject_of_a_reference_model_is_refused(small_sim, aligned):
    name = f"eeg-{uuid.uuid4().hex}"
    player = PlayerLSL(_raw(small_sim.recordings[1]), chunk_size=10, name=name).start()
    try:
        with pytest.raises(ValueError, match="per-subject references"):
            OnlineTwin(copy.deepcopy(aligned), name=name, subject="new").connect()
        with pytest.raises(ValueError, match="calibration= needs subject="):
            OnlineTwin(copy.deepcopy(aligned), name=name, calibration=10.0).connect()
        subject = sorted(known_subjects(aligned))[0]
        with pytest.raises(ValueError, match="fitted or calibrated on"):
            OnlineTwin(
                copy.deepcopy(aligned), name=name, subject=subject, calibration=10.0
            ).connect()
    finally:
        player.stop()
