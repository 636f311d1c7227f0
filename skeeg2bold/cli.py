"""The ``skeeg2bold`` command: the paper's experiment end to end.

``skeeg2bold run`` simulates (or reads) the data, cuts 10 s EEG windows,
splits the 14 ROIs into differential signals plus their common mode, fits
the deep models, the Riemannian, ridge and HRF baselines, the chance-level
surrogate and, on simulated data, the unmixing oracle under the paper's
protocol (or subject-wise CV), prints a per-ROI table and writes a report
folder (CSV, JSON, figures).
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

__all__ = ["main"]

#: Settings of the two presets. ``quick`` finishes in minutes on 2 CPU cores
#: (two target subjects, one seed). ``full`` is the paper's setting: EEG at
#: the native 1000 Hz, the last subject as the target (the paper's 8th),
#: three seeds per model for the sd, three chance surrogates (8 minutes and
#: 1.4 GB on 2 CPU cores; ``--device cuda``, more cores or
#: ``--repeats``/``--models`` change it). ``--targets 8`` evaluates every
#: subject in turn.
PRESETS = {
    "quick": dict(
        sim_sfreq=250.0,
        sfreq=100.0,
        targets=2,
        repeats=1,
        chance_repeats=2,
        epochs=25,
        models=("aligned-compact", "compact", "deep", "riemann", "aligned-logridge", "logridge"),
    ),
    "full": dict(
        sim_sfreq=1000.0,
        sfreq=100.0,
        targets=1,
        repeats=3,
        chance_repeats=3,
        epochs=40,
        models=(
            "aligned-compact",
            "compact",
            "deep",
            "riemann",
            "aligned-logridge",
            "logridge",
            "ridge",
            "hrf",
        ),
    ),
}
#: What each model name builds (``--models``).
MODEL_HELP = {
    "bandpower": "EEG2BoldRegressor(BandPowerNet): log band power of learned spatial "
    "filters (unmixing), per time bin",
    "compact": "EEG2BoldRegressor(CompactNet): the interpretable network, started from "
    "the classical envelope features",
    "aligned-compact": "SubjectAlignment + EEG2BoldRegressor(CompactNet): each subject's "
    "EEG whitened by its own mean spatial covariance (Euclidean alignment), then "
    "CompactNet; the most accurate model of benchmarks/bench_unmixing.py",
    "deep": "EEG2BoldRegressor(EEG2BoldNet): the paper's network",
    "ensemble": "SeedEnsembleRegressor of 3 CompactNets (seeds averaged)",
    "average": "StandardizedAverageRegressor of the Riemannian baseline and aligned-compact: "
    "their predictions standardised on each subject's own training windows and averaged",
    "ridge": "lagged band envelopes + ridge",
    "logridge": "lagged log band envelopes + ridge",
    "aligned-logridge": "SubjectAlignment + lagged log band envelopes + ridge: alignment "
    "without a network",
    "hrf": "band envelopes convolved with the canonical HRF + ridge",
    "riemann": "band covariances, per-subject re-centring, tangent space + ridge",
}
MODEL_NAMES = tuple(MODEL_HELP)
#: Models whose chance level is estimated: the first of these that is fitted.
_CHANCE_PREFERENCE = (
    "aligned-compact",
    "bandpower",
    "compact",
    "deep",
    "ensemble",
    "riemann",
    "aligned-logridge",
    "logridge",
    "ridge",
    "hrf",
)
#: Names of the unmixing oracles in the report (simulated data only): the
#: log-envelope ridge on all true sources, and on the cortical ones only.
ORACLE = "unmixing oracle"
CORTICAL_ORACLE = "unmixing oracle (cortical)"


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

    commands = {"run": _run, **COMMANDS}
    if args.command not in commands:
        parser.print_help()
        return 0 if args.command is None and argv is not None else 2
    try:
        return commands[args.command](args, parser)
    except (OSError, ImportError, ValueError, RuntimeError) as err:
        # Missing or unreadable files, a missing optional package (the atlas),
        # bad data: a message, not a traceback.
        parser.exit(2, f"skeeg2bold {args.command}: error: {err}\n")


def _run(args, parser):
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
    _check_device(parser, args.device)
    progress = not args.no_progress
    t_start = time.perf_counter()

    _say(
        f"skeeg2bold run — {'quick' if args.quick else 'full'} preset, {args.data} data, "
        f"{args.protocol} protocol"
    )
    recordings, ceiling_fn, sources = _load(args, preset, progress)

    from . import make_windows
    from .targets import CommonModeSplitter

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = make_windows(recordings, window=10.0, sfreq=preset["sfreq"], dtype="float32")
    for w in caught:
        _say(f"  note: {w.message}")
    splitter = CommonModeSplitter().fit(data.y)
    data.y = splitter.transform(data.y)
    data.target_names = list(splitter.get_feature_names_out(data.roi_names))
    _say(
        f"  {len(data.X)} windows of 10 s at {data.sfreq:g} Hz from {len(recordings)} "
        f"subjects; {len(data.target_names)} targets (14 differential ROIs + common mode)"
    )

    cv = _protocol(args, preset, data)
    models = _models(preset, data, args)
    ceiling = ceiling_fn(splitter) if ceiling_fn is not None else None
    chance_models = [m for m in _CHANCE_PREFERENCE if m in models][:1]
    if preset["chance_repeats"] == 0:
        chance_models = []

    from scipy.linalg import LinAlgWarning

    from .experiment import run_experiment

    with warnings.catch_warnings():
        # RidgeCV tries tiny penalties on purpose; the ill-conditioned ones
        # lose the selection, so their solver warnings are only noise here.
        warnings.simplefilter("ignore", LinAlgWarning)
        result = run_experiment(
            models,
            data,
            cv=cv,
            chance_models=chance_models,
            n_repeats=preset["repeats"],
            chance_repeats=max(preset["chance_repeats"], 1),
            ceiling=ceiling,
            random_state=args.seed,
            progress=progress,
        )
        if sources is not None:
            result = _with_oracle(result, sources, data, cv, preset, args, progress)
    result.info.update(
        preset=preset,
        data=args.data,
        protocol=args.protocol,
        seconds=round(time.perf_counter() - t_start, 1),
    )
    folder = result.save(args.out)
    print()
    print(
        "Pearson r on the test parts (mean ± sd over folds and repeats); ROI targets are "
        "differential (ROI minus the common mode):"
    )
    print(result.format_table())
    if not args.no_figures:
        _figures(result, data, folder)
    _say(f"\nreport written to {folder}/ in {time.perf_counter() - t_start:.0f} s")
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


def _check_device(parser, device):
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        parser.error(f"--device must be a torch device such as cpu or cuda, got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {device}: torch sees no CUDA device on this machine")


def _load(args, preset, progress):
    if args.data == "simulated":
        from .datasets import ceiling_for, simulate_eeg_fmri, source_recordings

        duration = getattr(args, "sim_duration", 285.0)  # fit has --sim-duration
        _say(
            f"  simulating {args.n_subjects} subjects x {duration:g} s at "
            f"{preset['sim_sfreq']:g} Hz ..."
        )
        sim = simulate_eeg_fmri(
            n_subjects=args.n_subjects,
            duration=duration,
            sfreq=preset["sim_sfreq"],
            random_state=args.seed,
        )
        return (
            sim.recordings,
            lambda splitter: ceiling_for(sim, splitter.transform),
            {
                ORACLE: source_recordings(sim),
                CORTICAL_ORACLE: source_recordings(sim, deep=False),
            },
        )
    from .io._layouts import load_real_data

    return load_real_data(args, lambda items, desc: _progress(items, desc, progress)), None, None


def _protocol(args, preset, data):
    import numpy as np

    from .model_selection import PaperProtocolSplit

    subjects = list(np.unique(data.groups))
    n = len(subjects) if preset["targets"] is None else min(preset["targets"], len(subjects))
    if len(subjects) < 2:
        raise ValueError("the experiment needs at least two subjects")
    if args.protocol == "paper":
        return PaperProtocolSplit(subjects=subjects[-n:])
    from sklearn.model_selection import LeaveOneGroupOut

    class _LastSubjects(LeaveOneGroupOut):
        """Leave-one-subject-out over the last ``n`` subjects only."""

        def split(self, X, y=None, groups=None):
            for train, test in super().split(X, y, groups):
                if str(np.asarray(groups)[test[0]]) in subjects[-n:]:
                    yield train, test

    return _LastSubjects()


def _with_oracle(result, sources, data, cv, preset, args, progress):
    """Add the unmixing oracles: the log-envelope ridge on the true sources' windows.

    ``sources`` maps each oracle's name to its source recordings.
    """
    import numpy as np
    import pandas as pd

    from . import make_windows
    from .baselines import make_ridge_baseline
    from .experiment import run_experiment

    for name, recordings in sources.items():
        with warnings.catch_warnings():  # the same windows as the EEG's, already reported
            warnings.simplefilter("ignore")
            oracle_data = make_windows(
                recordings, window=10.0, sfreq=preset["sfreq"], dtype="float32"
            )
        if not (
            np.allclose(oracle_data.X.times, data.X.times)
            and np.array_equal(oracle_data.groups, data.groups)
        ):
            raise RuntimeError("the source windows do not line up with the EEG windows")
        oracle_data.y, oracle_data.target_names = data.y, data.target_names
        oracle = run_experiment(
            {name: make_ridge_baseline(log=True)},
            oracle_data,
            cv=cv,
            random_state=args.seed,
            progress=progress,
        )
        result.scores = pd.concat([result.scores, oracle.scores], ignore_index=True)
        result.info["models"].update(oracle.info["models"])
        result.info["fit_seconds_mean"].update(oracle.info["fit_seconds_mean"])
    return result


#: Averaged models (``--models average``) -> their members.
_AVERAGES = {"average": ("riemann", "aligned-compact")}


def _models(preset, data, args):
    """Build every model of ``preset["models"]``; an ``aligned-`` name is the model
    without the prefix behind :class:`~skeeg2bold.features.SubjectAlignment`."""
    return {name: _named_model(name, preset, args) for name in preset["models"]}


def _named_model(name, preset, args):
    if name in _AVERAGES:
        from .ensemble import StandardizedAverageRegressor

        members = _AVERAGES[name]
        return StandardizedAverageRegressor([(m, _named_model(m, preset, args)) for m in members])
    base = name.removeprefix("aligned-")
    model = _model(base, preset, args)
    if base != name:
        from sklearn.pipeline import make_pipeline

        from .features import SubjectAlignment

        model = make_pipeline(SubjectAlignment(), model)
    return model


def _model(name, preset, args):
    """One model of :data:`MODEL_HELP` (an ``aligned-`` prefix already removed)."""
    from .baselines import make_hrf_baseline, make_ridge_baseline, make_riemann_baseline

    if name in ("bandpower", "deep", "compact", "ensemble"):
        from .nn import BandPowerNet, CompactNet, EEG2BoldNet, EEG2BoldRegressor

        module = {"bandpower": BandPowerNet, "deep": EEG2BoldNet}.get(name, CompactNet)
        model = EEG2BoldRegressor(
            module, max_epochs=preset["epochs"], device=args.device, random_state=args.seed
        )
        if name == "ensemble":
            from .ensemble import SeedEnsembleRegressor

            model = SeedEnsembleRegressor(model, n_members=3, random_state=args.seed)
        return model
    if name == "ridge":
        return make_ridge_baseline()
    if name == "logridge":
        return make_ridge_baseline(log=True)
    if name == "riemann":
        return make_riemann_baseline()
    return make_hrf_baseline()


def _figures(result, data, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .experiment import plot_prediction_traces, plot_roi_correlations

    fig = plot_roi_correlations(result)
    fig.savefig(folder / "fig3_roi_correlations.png", dpi=130)
    plt.close(fig)
    fig = plot_prediction_traces(result)
    fig.savefig(folder / "bold_traces.png", dpi=130)
    plt.close(fig)
    # Patterns of the interpretable network first: its readout ranks the branches.
    fitted = result.fitted
    deep = next((fitted[n] for n in ("compact", "ensemble", "deep") if n in fitted), None)
    if deep is not None:
        from .nn import branch_patterns, plot_branch_patterns

        patterns = branch_patterns(deep, data.X, info=data.info)
        fig = plot_branch_patterns(patterns, data.info, show=False)
        fig.savefig(folder / "fig4_branch_patterns.png", dpi=110)
        plt.close(fig)
    _say(f"  figures: {', '.join(sorted(p.name for p in Path(folder).glob('*.png')))}")


def _progress(items, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=not enabled)


def _say(text):
    print(text, flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
