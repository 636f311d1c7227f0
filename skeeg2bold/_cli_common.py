"""What every sub-command of the ``skeeg2bold`` command shares.

The data options, the device check, printing, and loading and windowing the
data as :mod:`skeeg2bold.experiment` does, with the notes printed. Both
``cli`` and ``_cli_deploy`` import from here, never from each other.
"""

import warnings
from pathlib import Path

__all__ = ["add_data_arguments", "check_device", "load_and_window", "say"]


def add_data_arguments(parser):
    """The data-source options shared by ``run`` and ``fit``."""
    src = parser.add_argument_group("data")
    src.add_argument(
        "--data",
        choices=("simulated", "cwl", "bids"),
        default="simulated",
        help="data source (default: the embedded simulator)",
    )
    src.add_argument("--root", type=Path, help="dataset folder for --data cwl/bids")
    src.add_argument("--subjects", nargs="+", help="subjects to load (cwl: trio1 ... verio8)")
    src.add_argument("--task", default="rest", help="BIDS task (default: rest)")
    src.add_argument(
        "--pump",
        choices=("on", "off"),
        default="off",
        help="CWL helium-pump condition (default: off)",
    )
    src.add_argument("--n-subjects", type=int, default=8, help="simulated subjects (default: 8)")
    src.add_argument(
        "--no-cwl-regression",
        action="store_true",
        help="keep the scanner artefacts: skip the carbon-wire loop regression that cleans "
        "--data cwl (and BIDS runs with CW channels)",
    )
    src.add_argument(
        "--space",
        help="BIDS: fMRIPrep space of the BOLD (default: its MNI output when present)",
    )
    src.add_argument("--session", help="BIDS session label (ses-<label>)")
    src.add_argument("--run", help="BIDS run label (run-<label>)")
    src.add_argument(
        "--derivatives",
        default="derivatives/fmriprep",
        help="BIDS: fMRIPrep folder, relative to --root (default: derivatives/fmriprep)",
    )
    from .io._layouts import DATA_LAYOUTS_HELP, LayoutsHelpFormatter

    parser.epilog = DATA_LAYOUTS_HELP
    parser.formatter_class = LayoutsHelpFormatter


def check_device(parser, device):
    """Exit with a message unless ``device`` is a torch device this machine has."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        parser.error(f"--device must be a torch device such as cpu or cuda, got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {device}: torch sees no CUDA device on this machine")


def load_and_window(args, preset, *, window=10.0, progress=True):
    """The data of ``args`` (``--data`` ...) loaded and windowed as the paper does.

    Returns :func:`~skeeg2bold.experiment.load_dataset`'s output and
    :func:`~skeeg2bold.experiment.paper_windows`' output; the windowing
    warnings are printed as notes.
    """
    from . import experiment

    duration = getattr(args, "sim_duration", 285.0)  # fit has --sim-duration
    if args.data == "simulated":
        say(
            f"  simulating {args.n_subjects} subjects x {duration:g} s at "
            f"{preset['sim_sfreq']:g} Hz ..."
        )
    dataset = experiment.load_dataset(
        args.data,
        root=args.root,
        subjects=args.subjects,
        task=args.task,
        pump=args.pump,
        n_subjects=args.n_subjects,
        duration=duration,
        sfreq=preset["sim_sfreq"],
        random_state=args.seed,
        progress=progress,
        cwl_regression=not args.no_cwl_regression,
        space=args.space,
        session=args.session,
        run=args.run,
        derivatives=args.derivatives,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = experiment.paper_windows(dataset.recordings, window=window, sfreq=preset["sfreq"])
    for w in caught:
        say(f"  note: {w.message}")
    return dataset, data


def say(text):
    """Print a line at once (progress notes between progress bars)."""
    print(text, flush=True)
