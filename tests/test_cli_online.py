"""``skeeg2bold fit``, ``stream`` and ``replay`` end to end on the LSL loopback."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import mne
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mne_lsl")
pytest.importorskip("skops")

from skeeg2bold import EEGWindows
from skeeg2bold.cli import main
from skeeg2bold.datasets import CWL_CH_NAMES
from skeeg2bold.persistence import load_model

FIT = [
    "fit",
    "--quick",
    "--n-subjects",
    "2",
    "--sim-duration",
    "60",
    "--window",
    "2",
    "--no-progress",
]


@pytest.fixture(scope="module")
def ridge_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "ridge.zip"
    assert main([*FIT, "--model", "ridge", "--out", str(path)]) == 0
    return path


def test_fit_saves_model_with_target_names_and_tr(ridge_file, capsys):
    model, metadata = load_model(ridge_file, return_metadata=True)
    assert len(metadata["target_names"]) == 15
    assert metadata["target_names"][0] == "Left Thalamus"
    assert metadata["target_names"][-1] == "common_mode"
    assert metadata["tr"] == pytest.approx(1.95, abs=0.05)
    assert (metadata["window"], metadata["sfreq"], metadata["model"]) == (2.0, 100.0, "ridge")
    X = np.random.default_rng(0).standard_normal((3, 30, 200)) * 1e-5
    X = EEGWindows.from_array(X, sfreq=100.0, ch_names=list(CWL_CH_NAMES))
    assert model.predict(X).shape == (3, 15)


def test_fit_network(tmp_path, capsys):
    path = tmp_path / "compact.zip"
    assert main([*FIT, "--model", "compact", "--epochs", "1", "--out", str(path)]) == 0
    assert "model written to" in capsys.readouterr().out
    model = load_model(path)
    assert model.module.__name__ == "CompactNet" and model.n_outputs_ == 15


def test_fit_aligned_network_keeps_each_subjects_reference(tmp_path):
    path = tmp_path / "aligned.zip"
    assert main([*FIT, "--model", "aligned-compact", "--epochs", "1", "--out", str(path)]) == 0
    model = load_model(path)
    alignment, regressor = model.named_steps.values()
    assert type(alignment).__name__ == "SubjectAlignment"
    assert regressor.module.__name__ == "CompactNet"
    # The two simulated subjects' references travel with the model file: a
    # window of a subject seen in fit is predicted alone, one of an unseen
    # subject is refused (one window cannot make a reference).
    assert sorted(alignment.references_) == ["sub-01", "sub-02"]
    X = np.random.default_rng(0).standard_normal((1, 30, 200)) * 1e-5
    seen = EEGWindows.from_array(X, sfreq=100.0, ch_names=list(CWL_CH_NAMES), groups=["sub-01"])
    assert np.isfinite(model.predict(seen)).all()
    unseen = EEGWindows.from_array(X, sfreq=100.0, ch_names=list(CWL_CH_NAMES), groups=["x"])
    with pytest.raises(ValueError, match="not seen"):
        model.predict(unseen)


def test_replay_simulator_and_stream_write_log(ridge_file, tmp_path, capsys):
    name = f"cli-{uuid.uuid4().hex}"
    replay = threading.Thread(
        target=main,
        args=(
            ["replay", "--name", name, "--sfreq", "100", "--sim-duration", "20", "--duration", "6"],
        ),
        daemon=True,
    )
    replay.start()
    log = tmp_path / "log.csv"
    try:
        code = main(
            [
                "stream",
                "--model",
                str(ridge_file),
                "--source",
                name,
                "--step",
                "0.5",
                "--duration",
                "3.5",
                "--log",
                str(log),
                "--plot",
            ]
        )
    finally:
        replay.join()
    assert code == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(log)
    assert list(table.columns[:3]) == ["lsl_time", "status", "latency_ms"]
    assert table.columns[3] == "Left Thalamus" and len(table.columns) == 3 + 15
    assert (table.status == "ok").sum() >= 2
    assert np.isfinite(table.loc[table.status == "ok"].iloc[:, 3:].to_numpy()).all()
    step_lines = [line for line in printed.splitlines() if " ok " in line]
    assert len(step_lines) == (table.status == "ok").sum()
    assert "Left Thalamus=" in step_lines[0] and "(+12 more)" in step_lines[0]
    assert f"replaying the simulator (seed 1) as LSL stream {name!r}" in printed
    assert "stopped: predictions" in printed
    # The live plot is saved beside the log.
    assert (tmp_path / "log.png").stat().st_size > 5000


def test_replay_a_recording_file(tmp_path, small_sim):
    rec = small_sim.recordings[0]
    path = tmp_path / "rec_raw.fif"
    mne.io.RawArray(rec.eeg, rec.info, verbose=False).save(path, verbose=False)
    name = f"file-{uuid.uuid4().hex}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "skeeg2bold",
            "replay",
            str(path),
            "--name",
            name,
            "--duration",
            "1",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"replaying {path} as LSL stream {name!r}: 30 channels at 100 Hz" in result.stdout


def test_bad_arguments(tmp_path, ridge_file, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["stream", "--model", str(ridge_file)])
    assert exc.value.code == 2
    assert "--source NAME or --source-id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stream", "--model", str(tmp_path / "none.zip"), "--source", "x"])
    assert "is not a file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["replay", str(tmp_path / "none.fif")])
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*FIT, "--window", "0"])
    assert "--window must be positive" in capsys.readouterr().err


@pytest.fixture
def no_data_loading(monkeypatch):
    """Loading data fails the test: the options must be refused before it."""

    def load(*args, **kwargs):
        raise AssertionError("data loaded before the options were checked")

    monkeypatch.setattr("skeeg2bold.experiment.load_dataset", load)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "cuda"], "--device cuda: torch sees no CUDA device"),
        (["--device", "gpu0"], "--device must be a torch device"),
        (["--out", "{tmp}"], "is a folder; give the name of a file"),
        (["--out", "{tmp}/missing/m.zip"], "missing does not exist"),
        (["--out", "{tmp}/file.txt/m.zip"], "file.txt is not a folder"),
        (["--data", "cwl", "--root", "{tmp}/missing"], "--root {tmp}/missing is not a folder"),
    ],
)
def test_fit_checks_out_and_device_before_loading_data(
    argv, message, tmp_path, monkeypatch, no_data_loading, capsys
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    (tmp_path / "file.txt").write_text("")
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "model.zip")]
    with pytest.raises(SystemExit) as exc:
        main([*FIT, "--model", "compact", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err
    assert not list(tmp_path.glob("*.zip"))


def test_stream_checks_log_before_connecting(ridge_file, tmp_path, monkeypatch, capsys):
    def connect(self):
        raise AssertionError("connected before --log was checked")

    monkeypatch.setattr("skeeg2bold.online.OnlineTwin.connect", connect)
    for log, message in [
        (tmp_path, "is a folder"),
        (tmp_path / "missing" / "log.csv", "does not exist"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["stream", "--model", str(ridge_file), "--source", "x", "--log", str(log)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"--log {log}" in err and message in err


def _logged_rows(path):
    """Data rows in the CSV log so far, and how many of them are predictions."""
    try:
        rows = path.read_text().splitlines()[1:]
    except FileNotFoundError:
        return 0, 0
    return len(rows), sum(",ok," in row for row in rows)


def test_sigterm_stops_stream_like_ctrl_c_with_the_log_complete(ridge_file, small_sim, tmp_path):
    from mne_lsl.player import PlayerLSL

    # Two stream processes on one played recording: one stopped by Ctrl-C
    # (SIGINT), one by SIGTERM, each once it has logged predictions.
    rec = small_sim.recordings[0]
    name = f"term-{uuid.uuid4().hex}"
    raw = mne.io.RawArray(rec.eeg, rec.info, verbose=False)
    player = PlayerLSL(raw, chunk_size=10, name=name, source_id=name).start()
    env = {**os.environ, "MPLBACKEND": "Agg"}
    procs, results = {}, {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            log, out = tmp_path / f"{sig.name}.csv", tmp_path / f"{sig.name}.out"
            cmd = [sys.executable, "-m", "skeeg2bold", "stream", "--model", str(ridge_file)]
            cmd += ["--source", name, "--step", "0.25", "--log", str(log), "--plot"]
            cmd += ["--out-name", f"{name}-{sig.name}"]
            with open(out, "w") as stdout:
                procs[sig] = (log, out, subprocess.Popen(cmd, stdout=stdout, text=True, env=env))
        for sig, (log, out, proc) in procs.items():
            deadline = time.monotonic() + 90
            while _logged_rows(log)[1] < 2 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert proc.poll() is None, f"the stream stopped by itself: {out.read_text()}"
            seen, n_ok = _logged_rows(log)
            assert n_ok >= 2, "no predictions logged in 90 s"
            proc.send_signal(sig)
            results[sig] = (proc.wait(timeout=60), seen)
    finally:
        for _, _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        player.stop()
    assert results[signal.SIGTERM][0] == results[signal.SIGINT][0] == 0
    for sig, (_, seen) in results.items():
        log, out, _ = procs[sig]
        printed = out.read_text()
        table = pd.read_csv(log)
        assert list(table.columns[:3]) == ["lsl_time", "status", "latency_ms"]
        assert len(table.columns) == 3 + 15
        # Every row up to the signal, each one whole: the rows printed and counted.
        steps = [
            line
            for line in printed.splitlines()[2:]
            if not line.startswith(("stopped", "plot", "note"))
        ]
        assert len(table) >= seen and len(table) == len(steps)
        assert np.isfinite(table.lsl_time).all() and table.status.notna().all()
        ok = table.status == "ok"
        assert ok.sum() >= 2 and np.isfinite(table.loc[ok].iloc[:, 3:].to_numpy()).all()
        assert f"stopped: predictions {ok.sum()}," in printed
        assert (tmp_path / f"{sig.name}.png").stat().st_size > 5000
