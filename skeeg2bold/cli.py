"""The ``skeeg2bold`` command: the paper's experiment end to end.

``skeeg2bold run`` simulates (or reads) the data, cuts 10 s EEG windows,
splits the 14 ROIs into differential signals plus their common mode, fits
the deep models, the Riemannian, ridge and HRF baselines, the chance-level
surrogate and, on simulated data, the unmixing oracle under the paper's
protocol (or subject-wise CV), prints a per-ROI table and writes a report
folder (CSV, JSON, figures).
"""

import argparse
import functools
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]

from ._cli_common import add_data_arguments, check_device, load_and_window, say
from .experiment import CORTICAL_ORACLE, MODEL_HELP, ORACLE, PRESETS  # noqa: F401

MODEL_NAMES = tuple(MODEL_HELP)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skeeg2bold",
        description="EEG-based fMRI digital twin: predict subcortical BOLD from EEG.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the paper's experiment and write a report",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    add_data_arguments(run)
    exp = run.add_argument_group("experiment")
    exp.add_argument(
        "--quick", action="store_true", help="quick preset: about 6 minutes on 2 CPU cores"
    )
    exp.add_argument(
        "--protocol",
        choices=("paper", "subject-cv"),
        default="paper",
        help="paper: other subjects + start of the target; subject-cv: "
        "leave-one-subject-out (default: paper)",
    )
    exp.add_argument(
        "--models",
        nargs="+",
        choices=MODEL_NAMES,
        help="models to fit (default: preset): "
        + "; ".join(f"{name}: {text}" for name, text in MODEL_HELP.items()),
    )
    exp.add_argument(
        "--targets", type=int, help="number of target subjects / folds (default: preset)"
    )
    exp.add_argument("--repeats", type=int, help="seeds per fold (default: preset)")
    exp.add_argument("--chance-repeats", type=int, help="chance surrogates (0: none)")
    exp.add_argument("--epochs", type=int, help="max training epochs of the deep models")
    exp.add_argument("--sfreq", type=float, help="EEG rate for the models, Hz (default: 100)")
    exp.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    exp.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    out = run.add_argument_group("output")
    out.add_argument(
        "--out",
        type=Path,
        default=Path("skeeg2bold-report"),
        help="report folder (default: ./skeeg2bold-report)",
    )
    out.add_argument("--no-figures", action="store_true", help="skip the figures")
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    from ._cli_deploy import add_deploy_parsers

    add_deploy_parsers(sub, add_data_arguments, MODEL_NAMES, MODEL_HELP)
    return parser


def main(argv=None):
    if "torch" not in sys.modules:  # see passive_thread_waits: before torch only
        from .utils import passive_thread_waits

        passive_thread_waits()
    parser = build_parser()
    args = parser.parse_args(argv)
    from ._cli_deploy import COMMANDS

    commands = {"run": functools.partial(_run, argv=sys.argv[1:] if argv is None else argv)}
    commands.update(COMMANDS)
    if args.command not in commands:
        parser.print_help()
        return 0 if args.command is None and argv is not None else 2
    try:
        return commands[args.command](args, parser)
    except (OSError, ImportError, ValueError, RuntimeError) as err:
        # Missing or unreadable files, a missing optional package (the atlas),
        # bad data: a message, not a traceback.
        parser.exit(2, f"skeeg2bold {args.command}: error: {err}\n")


def _run(args, parser, argv):
    preset = dict(PRESETS["quick" if args.quick else "full"])
    for key in ("repeats", "chance_repeats", "epochs", "sfreq", "targets"):
        value = getattr(args, key)
        if value is not None:
            if value < (0 if key == "chance_repeats" else 1):
                parser.error(f"--{key.replace('_', '-')} must be positive, got {value}")
            preset[key] = value
    if args.models:
        preset["models"] = tuple(dict.fromkeys(args.models))
    if args.data != "simulated" and args.root is None:
        parser.error(f"--data {args.data} needs --root PATH")
    if args.root is not None and not args.root.is_dir():
        parser.error(f"--root {args.root} is not a folder")
    # Checked before any work: a bad --out or --device would otherwise fail
    # only after all the fits.
    _check_out(parser, args.out)
    check_device(parser, args.device)
    progress = not args.no_progress
    t_start = time.perf_counter()

    say(
        f"skeeg2bold run — {'quick' if args.quick else 'full'} preset, {args.data} data, "
        f"{args.protocol} protocol"
    )
    dataset, data = load_and_window(args, preset, progress=progress)
    say(
        f"  {len(data.X)} windows of 10 s at {data.sfreq:g} Hz from {len(dataset.recordings)} "
        f"subjects; {len(data.target_names)} targets (14 differential ROIs + common mode)"
    )
    from .experiment import run_paper_experiment, save_report

    result = run_paper_experiment(
        data,
        preset,
        protocol=args.protocol,
        dataset=dataset,
        device=args.device,
        random_state=args.seed,
        progress=progress,
    )
    result.info.update(data=args.data, seconds=round(time.perf_counter() - t_start, 1))
    folder = save_report(
        result, args.out, data=data, figures=not args.no_figures, command=["skeeg2bold", *argv]
    )
    print()
    print(
        "Pearson r on the test parts (mean ± sd over folds and repeats); ROI targets are "
        "differential (ROI minus the common mode):"
    )
    print(result.format_table())
    if not args.no_figures:
        say(f"  figures: {', '.join(sorted(p.name for p in Path(folder).glob('*.png')))}")
    say(f"\nreport written to {folder}/ in {time.perf_counter() - t_start:.0f} s")
    return 0


def _check_out(parser, out):
    """The report folder must be a folder, or creatable where it is asked for."""
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a folder")
    existing = next(p for p in (out, *out.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        parser.error(f"--out {out}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        parser.error(f"--out {out}: {existing} is not writable")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
