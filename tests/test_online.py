"""OnlineTwin on a real LSL loopback: PlayerLSL -> StreamLSL -> twin -> outlet -> inlet."""

import re
import threading
import time
import uuid
import warnings

import numpy as np
import pytest

pytest.importorskip("mne_lsl")

import mne
from mne_lsl.lsl import StreamInlet, resolve_streams
from mne_lsl.player import PlayerLSL

from skeeg2bold import DroppedWindowsWarning, EEGWindows, make_windows
from skeeg2bold._signature import window_signature
from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.ensemble import SeedEnsembleRegressor
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor
from skeeg2bold.online import AmplitudeWarning, OnlineTwin

WINDOW = 2.0  # s: short windows keep the loopback tests to a few seconds
STEP = 0.5
BANDS = {"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}


@pytest.fixture(scope="module")
def data(small_sim):
    with pytest.warns(DroppedWindowsWarning):
        return make_windows(small_sim.recordings, window=WINDOW, step=STEP)


@pytest.fixture(scope="module")
def ridge(data):
    return make_ridge_baseline(bands=BANDS).fit(data.X, data.y[:, :3])


def _compact(seed=0):
    return EEG2BoldRegressor(
        CompactNet,
        module__n_branches=3,
        module__n_lags=2,
        batch_size=32,
        max_epochs=1,
        train_split=None,
        random_state=seed,
    )


@pytest.fixture(scope="module")
def models(data, ridge):
    return {
        "ridge": ridge,
        "network": _compact().fit(data.X, data.y[:, :3]),
        "ensemble": SeedEnsembleRegressor(_compact(), n_members=2, random_state=0).fit(
            data.X, data.y[:, :3]
        ),
    }


def _raw(small_sim, ch_names=None, eeg=None):
    """The first subject's EEG as a Raw, rounded to float32 as LSL carries it."""
    rec = small_sim.recordings[0]
    eeg = rec.eeg if eeg is None else eeg
    eeg = np.asarray(eeg, dtype=np.float32).astype(np.float64)
    raw = mne.io.RawArray(eeg, mne.create_info(rec.ch_names, rec.sfreq, "eeg"), verbose=False)
    return raw if ch_names is None else raw.reorder_channels(ch_names)


def _player(raw):
    name = f"eeg-{uuid.uuid4().hex}"
    return PlayerLSL(raw, chunk_size=10, name=name, source_id=name).start(), name


def _locate(eeg, window):
    """Index of the sample that ends ``window`` in the continuous ``eeg``."""
    hits = np.flatnonzero(np.all(window[:, -1] == eeg.T, axis=1))
    assert hits.size == 1
    return int(hits[0])


def _offline(model, eeg, ends, n_times):
    sig = window_signature(model)
    windows = EEGWindows.from_array(
        np.stack([eeg[:, end - n_times + 1 : end + 1] for end in ends]),
        sfreq=sig.sfreq,
        ch_names=sig.ch_names,
    )
    return np.asarray(model.predict(windows)).reshape(len(ends), -1)


def _relative_error(online, offline):
    return np.max(np.abs(online - offline)) / np.max(np.abs(offline))


@pytest.mark.parametrize("kind", ["ridge", "network", "ensemble"])
def test_online_predictions_equal_offline_predict(small_sim, models, kind):
    model = models[kind]
    rec = small_sim.recordings[0]
    # The stream has the channels in another order, plus one the model never saw.
    order = rec.ch_names[::-1]
    raw = _raw(small_sim, order)
    raw.add_channels(
        [
            mne.io.RawArray(
                np.zeros((1, raw.n_times)),
                mne.create_info(["EXTRA"], raw.info["sfreq"], "eeg"),
                verbose=False,
            )
        ],
        force_update_info=True,
    )
    player, name = _player(raw)
    rows = []
    try:
        with OnlineTwin(model, name=name, step=STEP, target_names=["a", "b", "c"]) as twin:
            twin.run(duration=WINDOW + 2.0, callback=rows.append)
            stats = twin.stats_
    finally:
        player.stop()
    ok = [r for r in rows if r.status == "ok"]
    assert len(ok) >= 3 and stats["predictions"] == len(ok)
    assert stats["gaps"] == stats["dropouts"] == stats["skipped_nonfinite"] == 0
    eeg = _raw(small_sim).get_data()  # model channel order
    ends = [_locate(eeg, r.window) for r in ok]
    # One prediction per step: window ends STEP * sfreq samples apart (a twin
    # polled late predicts on the newest window, so allow a few exceptions).
    assert np.all(np.diff(ends) > 0)
    assert np.median(np.diff(ends)) == int(STEP * rec.sfreq)
    online = np.array([r.prediction for r in ok])
    offline = _offline(model, eeg, ends, window_signature(model).n_times)
    assert _relative_error(online, offline) <= 1e-5


def test_outlet_carries_predictions_named_and_timestamped(small_sim, ridge):
    player, name = _player(_raw(small_sim))
    out_name = f"bold-{uuid.uuid4().hex}"
    rows, received = [], []
    try:
        twin = OnlineTwin(
            ridge,
            name=name,
            out_name=out_name,
            target_names=["Left-Thalamus", "Right-Thalamus", "common_mode"],
        )
        twin.connect()
        (sinfo,) = resolve_streams(timeout=5.0, name=out_name)
        inlet = StreamInlet(sinfo)
        inlet.open_stream(timeout=5.0)
        twin.run(duration=WINDOW + 1.6, callback=rows.append)
        time.sleep(0.2)
        data, ts = inlet.pull_chunk(timeout=0.5)
        full = inlet.get_sinfo()  # with the channel description
        received = (data, ts, full.get_channel_names(), full.stype, full.sfreq)
        inlet.close_stream()
        twin.disconnect()
    finally:
        player.stop()
    data, ts, names, stype, sfreq = received
    assert names == ["Left-Thalamus", "Right-Thalamus", "common_mode"]
    assert stype == "BOLD" and sfreq == pytest.approx(1 / STEP)
    # step defaults to 0.5 s without a stored TR
    assert twin.step_ == STEP
    ok = [r for r in rows if r.status == "ok"]
    assert len(ok) >= 2 and len(ts) == len(rows)
    np.testing.assert_array_equal(data, np.array([r.prediction for r in rows]))
    # Each row is stamped with the LSL time of the last EEG sample used.
    np.testing.assert_allclose(ts, [r.timestamp for r in rows], rtol=0, atol=1e-9)


def test_missing_channel_is_a_clear_error(small_sim, ridge):
    rec = small_sim.recordings[0]
    player, name = _player(_raw(small_sim).drop_channels([rec.ch_names[3]]))
    try:
        with pytest.raises(ValueError, match=f"lacks channel.*'{rec.ch_names[3]}'"):
            OnlineTwin(ridge, name=name).connect()
    finally:
        player.stop()


def test_rate_that_cannot_be_resampled_is_a_clear_error(small_sim, ridge):
    rec = small_sim.recordings[0]
    raw = mne.io.RawArray(
        rec.eeg[:, ::2].astype(np.float64),
        mne.create_info(rec.ch_names, rec.sfreq / 2, "eeg"),
        verbose=False,
    )
    player, name = _player(raw)
    try:
        with pytest.raises(ValueError, match="at 50 Hz cannot feed a model fitted at 100 Hz"):
            OnlineTwin(ridge, name=name).connect()
    finally:
        player.stop()


def test_faster_stream_is_resampled_to_the_model_rate(small_sim, ridge):
    rec = small_sim.recordings[0]
    from scipy.signal import resample_poly

    fast = resample_poly(rec.eeg.astype(np.float64), 2, 1, axis=1)
    raw = mne.io.RawArray(fast, mne.create_info(rec.ch_names, 2 * rec.sfreq, "eeg"), verbose=False)
    player, name = _player(raw)
    rows = []
    try:
        with OnlineTwin(ridge, name=name, step=STEP) as twin:
            twin.run(duration=WINDOW + 2.0, callback=rows.append)
    finally:
        player.stop()
    ok = [r for r in rows if r.status == "ok"]
    assert len(ok) >= 3
    assert all(r.window.shape == (len(rec.ch_names), int(WINDOW * rec.sfreq)) for r in ok)
    # Resampled windows are the original 100 Hz EEG, up to the filter's edge
    # effect at the window's end (the samples after it are not there yet).
    eeg = rec.eeg.astype(np.float64)
    n_times, edge = int(WINDOW * rec.sfreq), 20
    view = np.lib.stride_tricks.sliding_window_view(eeg, n_times - edge, axis=1)
    for r in ok:
        head = r.window[:, :-edge]
        start = int(np.argmin(np.abs(view - head[:, None, :]).max(axis=(0, 2))))
        np.testing.assert_allclose(
            head, eeg[:, start : start + n_times - edge], rtol=0, atol=0.02 * np.abs(eeg).max()
        )


def test_nonfinite_samples_skip_windows(small_sim, ridge):
    rec = small_sim.recordings[0]
    eeg = np.array(rec.eeg, dtype=np.float64)
    sfreq = int(rec.sfreq)
    eeg[2, 3 * sfreq : int(3.2 * sfreq)] = np.nan  # 0.2 s of NaN at 3 s
    player, name = _player(_raw(small_sim, eeg=eeg))
    rows = []
    try:
        with OnlineTwin(ridge, name=name, step=STEP) as twin:
            twin.run(duration=6.5, callback=rows.append)
            stats = twin.stats_
    finally:
        player.stop()
    statuses = [r.status for r in rows]
    # Every window holding a NaN sample (0.2 s + a 2 s window = 4-5 steps) is skipped ...
    assert 4 <= stats["skipped_nonfinite"] == statuses.count("nonfinite") <= 5
    assert all(np.isnan(r.prediction).all() for r in rows if r.status == "nonfinite")
    # ... and predictions resume once the NaN have left the window.
    first_bad = statuses.index("nonfinite")
    assert "ok" in statuses[:first_bad] and "ok" in statuses[first_bad:]
    for r in rows:
        if r.status == "ok":
            assert np.isfinite(r.window).all() and np.isfinite(r.prediction).all()


def test_dropout_and_reconnect_are_flagged_and_counted(small_sim, ridge):
    raw = _raw(small_sim)
    player, name = _player(raw)
    rows = []
    twin = OnlineTwin(ridge, name=name, step=STEP, stall_timeout=0.5)
    try:
        twin.start(callback=rows.append)
        time.sleep(WINDOW + 1.0)
        player.stop()
        time.sleep(1.5)
        # The source comes back as a new outlet under the same name.
        player = PlayerLSL(raw, chunk_size=10, name=name, source_id=name).start()
        time.sleep(WINDOW + 2.0)
        twin.stop()
        stats = twin.stats_
    finally:
        twin.disconnect()
        player.stop()
    statuses = [r.status for r in rows]
    assert stats["dropouts"] == statuses.count("dropout") == 1
    assert stats["reconnects"] == 1
    dropout = statuses.index("dropout")
    assert np.isnan(rows[dropout].prediction).all()
    assert "ok" in statuses[:dropout]
    # After the reconnection: NaN rows until a full window has arrived, then predictions.
    after = statuses[dropout + 1 :]
    assert after[0] == "gap" and "ok" in after
    assert stats["skipped_gap"] == after.count("gap")
    assert after.index("ok") == after.count("gap")


def test_gap_in_connected_stream_is_flagged(small_sim, ridge):
    """Samples lost in transit (a jump in the timestamps) are a gap, not a crash."""
    from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

    rec = small_sim.recordings[0]
    name = f"eeg-{uuid.uuid4().hex}"
    info = StreamInfo(name, "EEG", len(rec.ch_names), rec.sfreq, "float32", name)
    info.set_channel_names(rec.ch_names)
    outlet = StreamOutlet(info, chunk_size=10)
    eeg = rec.eeg.astype(np.float32).T
    stop = threading.Event()

    def source():  # real-time pushes; between 3 and 4 s the samples are dropped
        t0, i = local_clock(), 0
        while not stop.is_set() and i + 10 < len(eeg):
            i += 10
            if not 300 <= i < 400:
                outlet.push_chunk(
                    np.ascontiguousarray(eeg[i - 10 : i]), timestamp=t0 + i / rec.sfreq
                )
            time.sleep(max(0.0, t0 + i / rec.sfreq - local_clock()))

    thread = threading.Thread(target=source, daemon=True)
    thread.start()
    rows = []
    try:
        with OnlineTwin(ridge, name=name, step=STEP, stall_timeout=2.0) as twin:
            twin.run(duration=7.0, callback=rows.append)
            stats = twin.stats_
    finally:
        stop.set()
        thread.join()
    statuses = [r.status for r in rows]
    assert stats["gaps"] == 1 and stats["dropouts"] == 0
    gap = statuses.index("gap")
    assert "ok" in statuses[:gap] and "ok" in statuses[gap:]
    # Windows spanning the lost second are not predicted on.
    assert stats["skipped_gap"] >= 3
    for r in rows:
        if r.status == "ok":
            assert r.window.shape[1] == int(WINDOW * rec.sfreq)


def test_model_without_channel_names_uses_stream_order_with_warning(small_sim, data):
    model = make_ridge_baseline(sfreq=data.sfreq, bands=BANDS).fit(
        np.asarray(data.X), data.y[:, :2]
    )
    assert window_signature(model).ch_names is None
    player, name = _player(_raw(small_sim))
    try:
        with pytest.warns(UserWarning, match="does not know its channel names"):
            twin = OnlineTwin(model, name=name).connect()
        twin.disconnect()
        rec = small_sim.recordings[0]
        twin = OnlineTwin(model, name=name, ch_names=rec.ch_names[::-1]).connect()
        assert list(twin._picks) == list(range(len(rec.ch_names)))[::-1]
        twin.disconnect()
    finally:
        player.stop()


def test_window_signature_of_every_model_kind(data, models):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.model_selection import GridSearchCV

    from skeeg2bold.targets import CommonModeSplitter

    wrapped = {
        "common-mode target": TransformedTargetRegressor(
            make_ridge_baseline(bands=BANDS), transformer=CommonModeSplitter(), check_inverse=False
        ),
        "search": GridSearchCV(
            make_ridge_baseline(bands=BANDS),
            {"ridgecv__alphas": [(1.0, 10.0), (100.0, 1000.0)]},
            cv=2,
        ),
    }
    fitted = [m.fit(data.X, data.y[:, :3]) for m in wrapped.values()]
    for model in [*models.values(), *fitted]:
        sig = window_signature(model)
        assert sig.ch_names == data.ch_names
        assert (sig.sfreq, sig.n_times) == (data.sfreq, int(WINDOW * data.sfreq))
    with pytest.raises(ValueError, match="not fitted"):
        window_signature(make_ridge_baseline())


def test_bad_arguments(ridge):
    with pytest.raises(ValueError, match="name or source_id"):
        OnlineTwin(ridge).connect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="step must be finite and > 0"):
            OnlineTwin(ridge, name="x", step=-1.0).connect()


def test_model_file_gives_target_names_and_step(small_sim, ridge, tmp_path):
    pytest.importorskip("skops")
    from skeeg2bold.persistence import save_model

    path = save_model(
        ridge, tmp_path / "ridge.zip", metadata={"target_names": ["x", "y", "z"], "tr": 0.7}
    )
    player, name = _player(_raw(small_sim))
    try:
        twin = OnlineTwin(str(path), name=name).connect()
        assert twin.target_names_ == ["x", "y", "z"] and twin.step_ == 0.7
        assert twin.out_name_ == f"{name}-BOLD"
        twin.disconnect()
        with pytest.raises(ValueError, match="target_names has 2 entries"):
            OnlineTwin(str(path), name=name, target_names=["x", "y"]).connect()
    finally:
        player.stop()


def _run_twin(model, raw, units=None, duration=WINDOW + 1.6):
    """Rows, stats and unit factors of a twin on ``raw``, streamed in ``units``."""
    name = f"eeg-{uuid.uuid4().hex}"
    player = PlayerLSL(raw, chunk_size=10, name=name, source_id=name)
    if units is not None:  # rescales the data and declares the unit
        player.set_channel_units({ch: units for ch in raw.ch_names})
    player.start()
    rows = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with OnlineTwin(model, name=name, step=STEP) as twin:
                twin.run(duration=duration, callback=rows.append)
                stats, factors = dict(twin.stats_), twin.unit_factors_
    finally:
        player.stop()
    amplitude = [w for w in caught if issubclass(w.category, AmplitudeWarning)]
    return [r for r in rows if r.status == "ok"], stats, factors, amplitude


def test_stream_in_declared_microvolts_is_read_in_volts(small_sim, models):
    model = models["network"]
    ok, stats, factors, amplitude = _run_twin(model, _raw(small_sim), units="microvolts")
    assert len(ok) >= 2 and not amplitude and stats["off_scale"] == 0
    np.testing.assert_array_equal(factors, 1e-6)
    # The windows came in µV (float32) and were turned into the volts of the model.
    eeg = _raw(small_sim).get_data()
    ends = [int(np.argmin(np.abs(eeg - r.window[:, -1:]).max(axis=0))) for r in ok]
    for r, end in zip(ok, ends):
        np.testing.assert_allclose(r.window[:, -1], eeg[:, end], rtol=1e-6, atol=0)
    online = np.array([r.prediction for r in ok])
    offline = _offline(model, eeg, ends, window_signature(model).n_times)
    assert _relative_error(online, offline) <= 1e-4


@pytest.mark.parametrize("units, ratio", [(None, r"e\+06 times"), ("microvolts", r"e-06 times")])
def test_stream_a_million_times_off_warns(small_sim, models, units, ratio):
    eeg = small_sim.recordings[0].eeg
    if units is None:  # µV sent without declaring them
        raw = _raw(small_sim, eeg=eeg * 1e6)
    else:  # volts declared as µV (the player multiplies by 1e6 when declaring µV)
        raw = _raw(small_sim, eeg=eeg / 1e6)
    ok, stats, _, amplitude = _run_twin(models["network"], raw, units=units)
    assert len(ok) >= 2
    assert len(amplitude) == 1  # once per connection ...
    assert stats["off_scale"] == len(ok)  # ... every window counted
    message = str(amplitude[0].message)
    assert re.search(ratio, message) and "declare" in message


def test_model_without_recorded_amplitude_is_not_checked(small_sim, ridge):
    raw = _raw(small_sim, eeg=small_sim.recordings[0].eeg * 1e6)
    ok, stats, _, amplitude = _run_twin(ridge, raw)
    assert len(ok) >= 2 and not amplitude and stats["off_scale"] == 0


def test_model_file_amplitude_checks_a_model_without_a_network(small_sim, ridge, tmp_path):
    # The amplitude written by `skeeg2bold fit` beside any model kind arms the check.
    pytest.importorskip("skops")
    from skeeg2bold.nn import window_amplitude
    from skeeg2bold.persistence import save_model

    eeg = small_sim.recordings[0].eeg
    amplitude = window_amplitude(eeg[np.newaxis])
    path = save_model(ridge, tmp_path / "ridge.zip", metadata={"input_amplitude": amplitude})
    ok, stats, _, warned = _run_twin(str(path), _raw(small_sim, eeg=eeg * 1e6))
    assert len(ok) >= 2 and len(warned) == 1 and stats["off_scale"] == len(ok)
    ok, stats, _, warned = _run_twin(str(path), _raw(small_sim))
    assert len(ok) >= 2 and not warned and stats["off_scale"] == 0
    with pytest.raises(ValueError, match="input_amplitude"):
        save_model(ridge, tmp_path / "bad.zip", metadata={"input_amplitude": -1.0})
