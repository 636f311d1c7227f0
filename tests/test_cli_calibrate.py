"""``skeeg2bold fit --coverage`` and ``stream --subject --calibrate``: a new subject online."""

import uuid

import mne
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mne_lsl")
pytest.importorskip("skops")
from mne_lsl.player import PlayerLSL

from skeeg2bold import EEGWindows
from skeeg2bold._signature import window_signature
from skeeg2bold.cli import main
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.online import _twin
from skeeg2bold.online._calibration import calibration_windows
from skeeg2bold.persistence import load_model

FIT = ["fit", "--quick", "--n-subjects", "2", "--sim-duration", "60", "--window", "2"]


@pytest.fixture(scope="module")
def aligned_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "aligned.zip"
    args = [*FIT, "--no-progress", "--model", "aligned-logridge", "--coverage", "0.8"]
    assert main([*args, "--out", str(path)]) == 0
    return path


def test_fit_says_when_a_model_needs_a_subject(aligned_file, tmp_path, capsys):
    assert main([*FIT, "--model", "aligned-logridge", "--out", str(tmp_path / "m.zip")]) == 0
    assert "--calibrate EEGFILE or --calibrate-seconds 60" in capsys.readouterr().out
    assert main([*FIT, "--model", "ridge", "--out", str(tmp_path / "r.zip")]) == 0
    assert "--calibrate" not in capsys.readouterr().out
    model = load_model(aligned_file)
    assert type(model).__name__ == "ConformalRegressor" and model.half_width_.shape == (15,)
    # Calibrated on held-out subjects (here 2: each predicted by a model of the other).
    assert type(model.cv).__name__ == "GroupKFold" and model.cv.n_splits == 2


def test_stream_calibrated_new_subject_matches_offline(aligned_file, tmp_path, monkeypatch, capsys):
    # The replayed subject (simulator seed 1) was not in 'fit' (seed 0); its
    # first 30 s, saved as a file, are the calibration recording.
    rec = simulate_eeg_fmri(n_subjects=1, duration=40.0, sfreq=100.0, random_state=1).recordings[0]
    calibration = tmp_path / "calibration_raw.fif"
    raw = mne.io.RawArray(rec.eeg, rec.info, verbose=False)
    raw.copy().crop(0, 30).save(calibration, verbose=False)
    # Record the windows the twin predicts on (in the model's channels and rate).
    seen = []
    emit = _twin.OnlineTwin._emit

    def recording_emit(self, timestamp, y, status, window, callback, *args):
        if status in ("ok", "ood"):
            seen.append((window.copy(), y.copy(), args[0].copy(), args[1].copy()))
        return emit(self, timestamp, y, status, window, callback, *args)

    monkeypatch.setattr(_twin.OnlineTwin, "_emit", recording_emit)
    name = f"cli-{uuid.uuid4().hex}"
    player = PlayerLSL(raw, chunk_size=10, name=name, source_id=name).start()
    log = tmp_path / "log.csv"
    try:
        code = main(
            [
                "stream",
                "--model",
                str(aligned_file),
                "--source",
                name,
                "--step",
                "0.5",
                "--duration",
                "4",
                "--log",
                str(log),
                "--subject",
                "new",
                "--calibrate",
                str(calibration),
            ]
        )
    finally:
        player.stop()
    assert code == 0 and len(seen) >= 3
    # Offline: the model file calibrated on the same recording, on the same windows.
    model = load_model(aligned_file)
    signature = window_signature(model)
    model.estimator_[0].calibrate(
        calibration_windows(
            str(calibration), sfreq=None, ch_names=None, signature=signature, subject="new"
        )
    )
    X = EEGWindows.from_array(
        np.stack([s[0] for s in seen]),
        sfreq=signature.sfreq,
        ch_names=signature.ch_names,
        groups=["new"] * len(seen),
    )
    y, lo, hi = model.predict(X, return_interval=True)
    online = np.stack([s[1] for s in seen])
    assert np.max(np.abs(online - y)) <= 1e-5 * np.max(np.abs(y))
    assert np.max(np.abs(np.stack([s[2] for s in seen]) - lo)) <= 1e-5 * np.max(np.abs(lo))
    assert np.max(np.abs(np.stack([s[3] for s in seen]) - hi)) <= 1e-5 * np.max(np.abs(hi))
    # The interval and OOD channels are on the outlet and in the log.
    table = pd.read_csv(log)
    names = list(table.columns[3:18])
    assert names[0] == "Left Thalamus"
    assert list(table.columns[18:]) == [
        *(f"{n}_lo" for n in names),
        *(f"{n}_hi" for n in names),
        "ood_p",
    ]
    ok = table[table.status.isin(["ok", "ood"])]
    assert len(ok) == len(seen)
    assert (ok[[f"{n}_lo" for n in names]].to_numpy() < ok[names].to_numpy()).all()
    assert ((ok.ood_p > 0) & (ok.ood_p <= 1)).all()
    printed = capsys.readouterr().out
    assert "+31 interval/OOD channels" in printed
    header = printed.splitlines()[1]
    assert header.split()[:5] == ["t", "(s)", "status", "latency", "ood_p"]
    assert "[interval]" in header


def test_stream_calibration_arguments_are_checked(aligned_file, tmp_path, capsys):
    base = ["stream", "--model", str(aligned_file), "--source", "x"]
    for extra, message in [
        (["--calibrate-seconds", "60"], "need --subject"),
        (["--subject", "a", "--calibrate-seconds", "-1"], "--calibrate-seconds must be positive"),
        (["--subject", "a", "--calibrate-seconds", "9", "--calibrate", "f"], "not both"),
        (["--subject", "a", "--calibrate", str(tmp_path / "none.fif")], "is not a file"),
    ]:
        with pytest.raises(SystemExit):
            main(base + extra)
        assert message in capsys.readouterr().err
