"""``skeeg2bold fit``, ``stream`` and ``replay``: train, deploy and feed the online twin.

``fit`` trains one model on all the data, as ``run`` loads and windows it,
and saves it with :func:`skeeg2bold.persistence.save_model`. ``stream`` runs
that model on a live LSL EEG stream (:class:`skeeg2bold.online.OnlineTwin`),
printing a line per prediction and logging them to CSV. ``replay`` plays a
recording file, or the simulator, as an LSL stream (mne-lsl's PlayerLSL).
"""

import csv
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["COMMANDS", "add_deploy_parsers"]


def add_deploy_parsers(sub, add_data_arguments, model_names, model_help):
    """Add the ``fit``, ``stream`` and ``replay`` sub-commands to ``sub``."""
    fit = sub.add_parser(
        "fit",
        help="train one model on all the data and save it",
        description="Train one model on every subject's windows (the data loaded and "
        "windowed as 'run' does; targets: 14 differential ROIs + common mode) "
        "and save it without pickle (skeeg2bold.persistence).",
    )
    add_data_arguments(fit)
    fit.add_argument(
        "--sim-duration",
        type=float,
        default=285.0,
        help="seconds simulated per subject (default: 285)",
    )
    opts = fit.add_argument_group("model")
    opts.add_argument(
        "--model",
        choices=model_names,
        default="compact",
        help="model to train (default: compact): "
        + "; ".join(f"{name}: {text}" for name, text in model_help.items()),
    )
    opts.add_argument(
        "--quick", action="store_true", help="quick preset: simulate at 250 Hz, 25 epochs"
    )
    opts.add_argument(
        "--window",
        type=float,
        default=10.0,
        help="EEG window in seconds (default: 10, the paper's)",
    )
    opts.add_argument("--epochs", type=int, help="max training epochs of the deep models")
    opts.add_argument("--sfreq", type=float, help="EEG rate for the model, Hz (default: 100)")
    opts.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    opts.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    opts.add_argument(
        "--coverage",
        type=float,
        help="wrap the model in a conformal predictor of this coverage, e.g. 0.9: the "
        "twin then streams <target>_lo and <target>_hi (skeeg2bold.uncertainty."
        "ConformalRegressor, calibrated on held-out-subject residuals: each third of the "
        "subjects predicted by a model fitted on the others)",
    )
    fit.add_argument(
        "--out",
        type=Path,
        default=Path("skeeg2bold-model.zip"),
        help="model file to write (default: ./skeeg2bold-model.zip)",
    )
    fit.add_argument("--no-progress", action="store_true", help="no progress bars")

    stream = sub.add_parser(
        "stream",
        help="run a saved model on a live LSL EEG stream",
        description="Run the online twin: read EEG from an LSL stream, predict the BOLD "
        "every step and push it to an LSL outlet ('<source>-BOLD'); print "
        "one line per step and log every row to CSV (flushed row by row). Ctrl-C "
        "and SIGTERM stop it alike, with a summary. Rows that could not "
        "be predicted (gap, drop-out, NaN samples) are NaN with their status.",
    )
    stream.add_argument("--model", type=Path, required=True, help="model file from 'fit'")
    stream.add_argument("--source", help="name of the EEG stream")
    stream.add_argument("--source-id", help="source id of the EEG stream")
    stream.add_argument(
        "--step", type=float, help="seconds between predictions (default: the model's TR, else 0.5)"
    )
    stream.add_argument(
        "--duration", type=float, help="seconds to run (default: until Ctrl-C or SIGTERM)"
    )
    stream.add_argument(
        "--log",
        type=Path,
        default=Path("skeeg2bold-stream.csv"),
        help="CSV log (default: ./skeeg2bold-stream.csv)",
    )
    stream.add_argument("--out-name", help="name of the output stream")
    calibration = stream.add_argument_group(
        "new subject",
        "Aligned and Riemannian models keep a reference per subject: stream a subject "
        "of the training data with --subject, or a new one calibrated on its EEG alone "
        "(--subject and --calibrate or --calibrate-seconds). Calibration also fits the "
        "out-of-distribution score published as 'ood_p'.",
    )
    calibration.add_argument("--subject", help="subject label of the streamed EEG")
    calibration.add_argument(
        "--calibrate",
        type=Path,
        metavar="EEGFILE",
        help="calibration recording of the new subject (any file mne.io.read_raw opens)",
    )
    calibration.add_argument(
        "--calibrate-seconds",
        type=float,
        metavar="S",
        help="calibrate on the first S seconds of the stream itself; predictions start after",
    )
    stream.add_argument(
        "--cwl-regression",
        choices=("auto", "on", "off"),
        default="auto",
        help="clean an in-scanner stream by causal carbon-wire loop regression on its CW "
        "channels before windowing; auto (default): when the model's training EEG was cleaned",
    )
    stream.add_argument(
        "--show", type=int, default=3, help="targets printed per line (default: 3; all are logged)"
    )
    stream.add_argument(
        "--plot",
        action="store_true",
        help="live plot of the predicted BOLD per target (matplotlib); "
        "saved beside the log as PNG at the end",
    )

    replay = sub.add_parser(
        "replay",
        help="play a recording or the simulator as an LSL EEG stream",
        description="Stream EEG over LSL for demos and tests: a recording file that MNE "
        "reads (.fif, .set, .edf, .bdf, .vhdr, ...) or, without a file, one "
        "simulated subject. Loops until --duration or Ctrl-C.",
    )
    replay.add_argument("file", nargs="?", type=Path, help="recording file (default: simulate)")
    replay.add_argument(
        "--name", default="skeeg2bold-eeg", help="stream name (default: skeeg2bold-eeg)"
    )
    replay.add_argument("--source-id", help="stream source id (default: the name)")
    replay.add_argument(
        "--sfreq", type=float, default=250.0, help="simulated EEG rate, Hz (default: 250)"
    )
    replay.add_argument(
        "--seed", type=int, default=1, help="simulator seed (default: 1; 'fit' simulates with 0)"
    )
    replay.add_argument(
        "--sim-duration",
        type=float,
        default=285.0,
        help="seconds simulated before looping (default: 285)",
    )
    replay.add_argument(
        "--chunk-size",
        type=int,
        default=10,
        help="samples per pushed chunk (default: 10). The player stamps a "
        "chunk's last sample a chunk ahead of the push, so latencies "
        "measured on a replay read chunk-size / sfreq low",
    )
    replay.add_argument("--duration", type=float, help="seconds to play (default: until Ctrl-C)")


def _check_out_file(parser, path, option):
    """Exit with a message naming ``option`` unless ``path`` can be written as a file."""
    if path.is_dir():
        parser.error(f"{option} {path} is a folder; give the name of a file to write")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        parser.error(f"{option} {path}: the folder {folder} {what}")
    if path.exists() and not os.access(path, os.W_OK):
        parser.error(f"{option} {path} exists and is not writable")
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        parser.error(f"{option} {path}: the folder {folder} is not writable")


def _fit(args, parser):
    from ._cli_common import check_device, load_and_window, say
    from .experiment import PRESETS, paper_model
    from .persistence import save_model

    preset = dict(PRESETS["quick" if args.quick else "full"])
    for key in ("epochs", "sfreq"):
        value = getattr(args, key)
        if value is not None:
            if value <= 0:
                parser.error(f"--{key} must be positive, got {value}")
            preset[key] = value
    for key in ("window", "sim_duration"):
        if getattr(args, key) <= 0:
            parser.error(f"--{key.replace('_', '-')} must be positive, got {getattr(args, key)}")
    if args.data != "simulated" and args.root is None:
        parser.error(f"--data {args.data} needs --root PATH")
    if args.root is not None and not args.root.is_dir():
        parser.error(f"--root {args.root} is not a folder")
    # Checked before any work: a bad --out or --device would otherwise fail
    # only after the data is loaded and the model trained.
    _check_out_file(parser, args.out, "--out")
    check_device(parser, args.device)
    if args.coverage is not None and not 0 < args.coverage < 1:
        parser.error(f"--coverage must be in (0, 1), got {args.coverage}")
    t_start = time.perf_counter()
    say(f"skeeg2bold fit — {args.model} on {args.data} data")
    dataset, data = load_and_window(args, preset, window=args.window, progress=not args.no_progress)
    recordings, target_names = dataset.recordings, data.target_names
    model = paper_model(
        args.model, epochs=preset["epochs"], device=args.device, random_state=args.seed
    )
    say(
        f"  training on {len(data.X)} windows of {args.window:g} s at {data.sfreq:g} Hz "
        f"from {len(recordings)} subjects, {len(target_names)} targets ..."
    )
    if args.coverage is not None:
        from sklearn.model_selection import GroupKFold

        from .uncertainty import ConformalRegressor

        # Held-out-subject residuals: the intervals are for recordings the
        # model did not learn from. Calibrated so, every ROI of a new subject
        # is within 5 points of nominal; on the last blocks of the training
        # subjects (the class's default) they over-cover by 3-5 points and are
        # 11-16 % wider (benchmarks/RESULTS.md, "intervals").
        n_subjects = len(set(data.groups))
        cv = GroupKFold(min(3, n_subjects)) if n_subjects >= 2 else None
        model = ConformalRegressor(model, coverage=args.coverage, cv=cv)
    model.fit(data.X, data.y)
    metadata = {
        "target_names": target_names,
        "tr": float(np.median([rec.tr for rec in recordings])),
        "window": float(args.window),
        "sfreq": float(data.sfreq),
        "model": args.model,
        "data": args.data,
        "subjects": sorted(str(s) for s in set(data.groups)),
        # What the twin compares a live stream's amplitude with, for every model kind.
        "input_amplitude": _input_amplitude(data.X),
        "targets": "differential ROIs (ROI minus the mean of the ROIs) and the common mode",
        # Whether the training EEG was cleaned by carbon-wire loop regression:
        # the twin then cleans a live stream that carries the loops.
        "cwl_regression": _cleaned(args, recordings),
    }
    path = save_model(model, args.out, metadata=metadata)
    say(f"model written to {path} in {time.perf_counter() - t_start:.0f} s")
    from .online._calibration import reference_steps

    if reference_steps(model):
        say(
            "  this model keeps a reference per subject: stream it with --subject ID (one of "
            "the training subjects) or, for a new subject, --subject ID and --calibrate "
            "EEGFILE or --calibrate-seconds 60"
        )
    return 0


def _cleaned(args, recordings):
    """Whether ``fit`` trained on EEG cleaned by carbon-wire loop regression."""
    from .io._layouts import cleaned_by_loops

    return args.data != "simulated" and cleaned_by_loops(args, recordings)


def _stream(args, parser):
    if args.source is None and args.source_id is None:
        parser.error("give --source NAME or --source-id ID of the EEG stream")
    if not args.model.is_file():
        raise FileNotFoundError(f"--model {args.model} is not a file")
    for key in ("step", "duration", "calibrate_seconds"):
        value = getattr(args, key)
        if value is not None and value <= 0:
            parser.error(f"--{key.replace('_', '-')} must be positive, got {value}")
    if args.calibrate is not None and args.calibrate_seconds is not None:
        parser.error("give --calibrate EEGFILE or --calibrate-seconds S, not both")
    if (args.calibrate is not None or args.calibrate_seconds is not None) and not args.subject:
        parser.error("--calibrate and --calibrate-seconds need --subject ID (the new subject)")
    if args.calibrate is not None and not args.calibrate.is_file():
        raise FileNotFoundError(f"--calibrate {args.calibrate} is not a file")
    _check_out_file(parser, args.log, "--log")
    with _StopOnSignals() as signals:
        return _stream_until_stopped(args, signals)


class _StopOnSignals:
    """Within, Ctrl-C (SIGINT) and SIGTERM act alike.

    While a twin runs (``twin`` set), the first of them stops it after the
    row in progress, so the log, the printed lines and the summary hold the
    same rows; otherwise, or a second time, they raise KeyboardInterrupt.
    Only the main thread can handle signals; elsewhere nothing changes.
    """

    signals = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.twin = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.signals}
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        self._previous = {}

    def _handle(self, signum, frame):
        twin, self.twin = self.twin, None
        if twin is None:
            raise KeyboardInterrupt
        twin.stop()


def _stream_until_stopped(args, signals):
    """Run the twin until ``--duration``, Ctrl-C or SIGTERM; each row is written
    and flushed to the log as it comes."""
    from .online import OnlineTwin
    from .online._display import LATENCY_NOTE, LivePlot, RowFormatter

    calibration = args.calibrate_seconds if args.calibrate is None else str(args.calibrate)
    twin = OnlineTwin(
        str(args.model),
        name=args.source,
        source_id=args.source_id,
        step=args.step,
        out_name=args.out_name,
        subject=args.subject,
        calibration=calibration,
        cwl_regression={"auto": None, "on": True, "off": False}[args.cwl_regression],
    ).connect()
    try:
        names = twin.target_names_
        rows = RowFormatter(twin, args.show)
        extra = len(twin.channel_names_) - len(names)
        print(
            f"streaming {twin.stream_.name!r} -> {twin.out_name_!r}: "
            f"{len(names)} targets (+{extra} interval/OOD channels) every {twin.step_:g} s; "
            f"log: {args.log}",
            flush=True,
        )
        print(rows.header(), flush=True)
        differential = "differential" in str(twin.metadata_.get("targets", ""))
        plot = LivePlot(names, differential=differential) if args.plot else None
        with open(args.log, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(rows.csv_header())
            f.flush()

            def on_step(row):
                if plot is not None:
                    plot.update(row)
                writer.writerow(rows.csv_row(row))
                f.flush()  # a killed stream leaves every row so far
                print(rows.line(row), flush=True)

            signals.twin = twin
            try:
                twin.run(duration=args.duration, callback=on_step)
            except KeyboardInterrupt:  # a second signal: stop at once
                pass
            finally:
                signals.twin = None
        stats = dict(twin.stats_)
        latencies = [r.latency for r in twin.history_ if r.status in ("ok", "ood")]
    finally:
        twin.disconnect()
    if plot is not None:
        print(f"plot written to {plot.save(args.log.with_suffix('.png'))}", flush=True)
    summary = ", ".join(f"{k} {v}" for k, v in stats.items())
    if latencies:
        p50, p99 = 1e3 * np.percentile(latencies, [50, 99])
        summary += f"; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    print(f"stopped: {summary}", flush=True)
    if latencies and min(latencies) < 0:
        print(f"note: negative latencies. {LATENCY_NOTE}", flush=True)
    return 0


def _replay(args, parser):
    import mne
    from mne_lsl.player import PlayerLSL

    for key in ("duration",):
        value = getattr(args, key)
        if value is not None and value <= 0:
            parser.error(f"--{key} must be positive, got {value}")
    if args.chunk_size < 1:
        parser.error(f"--chunk-size must be positive, got {args.chunk_size}")
    if args.file is not None:
        if not args.file.is_file():
            raise FileNotFoundError(f"recording file {args.file} not found")
        raw = mne.io.read_raw(args.file, preload=True, verbose="error")
        what = str(args.file)
    else:
        from .datasets import simulate_eeg_fmri

        if args.sfreq <= 0 or args.sim_duration <= 0:
            parser.error("--sfreq and --sim-duration must be positive")
        rec = simulate_eeg_fmri(
            n_subjects=1, duration=args.sim_duration, sfreq=args.sfreq, random_state=args.seed
        ).recordings[0]
        raw = mne.io.RawArray(rec.eeg, rec.info, verbose="error")
        what = f"the simulator (seed {args.seed})"
    player = PlayerLSL(
        raw, chunk_size=args.chunk_size, name=args.name, source_id=args.source_id or args.name
    ).start()
    print(
        f"replaying {what} as LSL stream {args.name!r}: {len(raw.ch_names)} channels at "
        f"{raw.info['sfreq']:g} Hz",
        flush=True,
    )
    try:
        if args.duration is None:
            while True:
                time.sleep(1.0)
        time.sleep(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        player.stop()
    print("replay stopped", flush=True)
    return 0


#: Sub-command name -> handler(args, parser).
COMMANDS = {"fit": _fit, "stream": _stream, "replay": _replay}


def _input_amplitude(X):
    """The training EEG's amplitude (V), as :func:`~skeeg2bold.nn.window_amplitude`."""
    from .nn import window_amplitude

    sample = np.linspace(0, len(X) - 1, min(len(X), 200)).astype(int)
    return window_amplitude(X[sample]) or None
