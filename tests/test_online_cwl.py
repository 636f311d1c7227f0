"""OnlineTwin cleaning an in-scanner stream by loop regression, over a real LSL loopback."""

import uuid
import warnings

import numpy as np
import pytest

pytest.importorskip("mne_lsl")

import mne
from mne_lsl.player import PlayerLSL

from skeeg2bold import DroppedWindowsWarning, EEGWindows, make_windows
from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.online import OnlineTwin
from skeeg2bold.persistence import save_model
from skeeg2bold.preprocessing import CWLRegression

WINDOW = 2.0  # s, of the model
CWL_WINDOW = 2.0  # s, of the loop regression: the twin predicts after 2 + 2 s
STEP = 0.5
BANDS = {"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}


@pytest.fixture(scope="module")
def scanner():
    """One subject in the scanner: EEG with pulse and pump artefacts, and the six loops."""
    sim = simulate_eeg_fmri(
        n_subjects=1, duration=40.0, sfreq=100.0, scanner_artifacts=True, random_state=3
    )
    rec = sim.recordings[0]
    loops = [n for n in rec.aux if n.startswith("CW")]
    # Rounded to float32 as LSL carries it.
    eeg = np.asarray(rec.eeg, dtype=np.float32).astype(np.float64)
    cw = np.vstack([rec.aux[n] for n in loops]).astype(np.float32).astype(np.float64)
    info = mne.create_info(
        rec.ch_names + loops, rec.sfreq, ["eeg"] * len(rec.ch_names) + ["misc"] * len(loops)
    )
    raw = mne.io.RawArray(np.vstack([eeg, cw]), info, verbose=False)
    cleaned = CWLRegression(window=CWL_WINDOW).transform(rec)
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows([cleaned], window=WINDOW, step=STEP)
    model = make_ridge_baseline(bands=BANDS).fit(data.X, data.y[:, :3])
    return rec, raw, model


def _stream(raw, model, duration, **kwargs):
    name = f"eeg-{uuid.uuid4().hex}"
    player = PlayerLSL(raw, chunk_size=10, name=name, source_id=name).start()
    rows = []
    try:
        with OnlineTwin(model, name=name, step=STEP, **kwargs) as twin:
            twin.run(duration=duration, callback=rows.append)
            stats = dict(twin.stats_)
            stats["first_cleaned"] = twin._cleaner.first_sample if twin._cleaner else None
    finally:
        player.stop()
    return rows, stats


def test_stream_with_loops_is_cleaned_causally_and_matches_offline(scanner):
    rec, raw, model = scanner
    rows, stats = _stream(
        raw, model, duration=CWL_WINDOW + WINDOW + 2.5, cwl_regression=CWLRegression(window=2.0)
    )
    statuses = [r.status for r in rows]
    # Until the cleaner has weights for a whole window, no prediction.
    assert statuses[0] == "cleaning" and stats["cleaning"] >= 1
    first_ok = statuses.index("ok")
    assert set(statuses[:first_ok]) == {"cleaning"}
    ok = [r for r in rows if r.status == "ok"]
    assert len(ok) >= 3 and stats["gaps"] == stats["dropouts"] == 0
    # The same recording, from the first sample the twin saw, cleaned offline
    # by the causal regression.
    data = raw.get_data()
    (start,) = np.flatnonzero(np.all(stats["first_cleaned"] == data.T, axis=1))
    eeg, cw = data[: len(rec.ch_names), start:], data[len(rec.ch_names) :, start:]
    offline_rec = CWLRegression(window=CWL_WINDOW, causal=True).transform(
        type(rec)(
            eeg,
            rec.bold,
            rec.volume_times,
            sfreq=rec.sfreq,
            ch_names=rec.ch_names,
            aux={f"CW{k + 1}": cw[k] for k in range(len(cw))},
        )
    )
    clean = offline_rec.eeg
    n_times = int(WINDOW * rec.sfreq)
    ends = []
    for row in ok:
        # The window predicted on is the cleaned EEG, not the raw stream.
        err = np.abs(clean.T - row.window[:, -1]).max(axis=1)
        end = int(np.argmin(err))
        assert err[end] <= 1e-6 * np.abs(clean).max()
        np.testing.assert_allclose(
            row.window, clean[:, end - n_times + 1 : end + 1], atol=1e-6 * np.abs(clean).max()
        )
        assert not np.allclose(row.window, eeg[:, end - n_times + 1 : end + 1])
        ends.append(end)
    # Every window starts after the cleaner was ready (two half-windows).
    assert min(ends) - n_times + 1 >= int(CWL_WINDOW * rec.sfreq)
    windows = EEGWindows.from_array(
        np.stack([clean[:, e - n_times + 1 : e + 1] for e in ends]),
        sfreq=rec.sfreq,
        ch_names=rec.ch_names,
    )
    offline = np.asarray(model.predict(windows))
    online = np.array([r.prediction for r in ok])
    assert np.max(np.abs(online - offline)) / np.max(np.abs(offline)) <= 1e-5


def test_asked_for_cleaning_without_loops_is_a_clear_error(scanner):
    rec, raw, model = scanner
    eeg_only = raw.copy().pick("eeg")
    with pytest.raises(ValueError, match="no carbon-wire loop channels"):
        _stream(eeg_only, model, duration=1.0, cwl_regression=True)


def test_model_file_of_cleaned_eeg_cleans_by_default(scanner, tmp_path):
    rec, raw, model = scanner
    cleaned_file = save_model(
        model, tmp_path / "cleaned.skops", metadata={"cwl_regression": True, "tr": STEP}
    )
    plain_file = save_model(model, tmp_path / "plain.skops", metadata={"tr": STEP})
    name = f"eeg-{uuid.uuid4().hex}"
    player = PlayerLSL(raw, chunk_size=10, name=name, source_id=name).start()
    try:
        with OnlineTwin(cleaned_file, name=name) as twin:
            assert isinstance(twin.cwl_regression_, CWLRegression)
            assert twin.cwl_regression_.causal
        with OnlineTwin(plain_file, name=name) as twin:
            assert twin.cwl_regression_ is None
        with OnlineTwin(cleaned_file, name=name, cwl_regression=False) as twin:
            assert twin.cwl_regression_ is None
    finally:
        player.stop()
    # A stream without loops for a model of cleaned EEG: taken as cleaned, with a warning.
    eeg_only = raw.copy().pick("eeg")
    name = f"eeg-{uuid.uuid4().hex}"
    player = PlayerLSL(eeg_only, chunk_size=10, name=name, source_id=name).start()
    try:
        with (
            pytest.warns(UserWarning, match="taken as cleaned already"),
            OnlineTwin(cleaned_file, name=name) as twin,
        ):
            assert twin._cleaner is None
    finally:
        player.stop()


def test_bad_cwl_regression_argument(scanner):
    _, _, model = scanner
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="cwl_regression must be"):
            OnlineTwin(model, name="x", cwl_regression="yes").connect()


def test_calibration_recording_is_cleaned_as_the_training_eeg(scanner):
    from skeeg2bold._signature import window_signature
    from skeeg2bold.online._calibration import calibration_windows

    rec, raw, model = scanner
    sig = window_signature(model)
    kw = dict(sfreq=None, ch_names=None, signature=sig, subject="new")
    cwl = CWLRegression(window=CWL_WINDOW, causal=True)  # the twin's; offline for a file
    cleaned = calibration_windows(raw, cwl_regression=cwl, **kw)
    expected = calibration_windows(CWLRegression(window=CWL_WINDOW).transform(raw), **kw)
    np.testing.assert_array_equal(np.asarray(cleaned), np.asarray(expected))
    assert cwl.causal  # the caller's regression is left as it was
    assert not np.allclose(np.asarray(cleaned), np.asarray(calibration_windows(raw, **kw)))
    with pytest.warns(UserWarning, match="taken as cleaned already"):
        plain = calibration_windows(raw.copy().pick("eeg"), cwl_regression=cwl, **kw)
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(calibration_windows(raw, **kw)))
