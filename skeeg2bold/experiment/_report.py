"""The report folder of an experiment: tables, figures, README and provenance."""

import platform
import shlex
from importlib import metadata
from pathlib import Path

__all__ = ["save_report"]

#: Packages whose versions the report records.
_PACKAGES = (
    "skeeg2bold",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "torch",
    "skorch",
    "mne",
    "pyriemann",
    "matplotlib",
)
#: Networks whose branch patterns Fig. 4 can show, in order of preference.
_INTERPRETABLE = ("compact", "ensemble", "deep")


def save_report(result, folder, *, data=None, figures=True, command=None):
    """Write an experiment's report folder.

    The tables of :meth:`ExperimentResult.save` (``scores.csv``,
    ``chance.csv``, ``summary.csv``, ``results.json``), with the command,
    the seed and the package versions recorded in ``results.json``
    (``info["provenance"]``); the figures (``fig3_roi_correlations.png``,
    ``bold_traces.png`` and, with a fitted interpretable network and
    ``data``, ``fig4_branch_patterns.png``); and a ``README.md`` that says
    what each file holds and how the report was made.

    Parameters
    ----------
    result : ExperimentResult
    folder : path-like
        Created if missing.
    data : Bunch, default=None
        The windows the experiment ran on (for Fig. 4's patterns).
    figures : bool, default=True
        Draw the figures.
    command : list of str, default=None
        The command line that made the report, recorded as given.

    Returns
    -------
    folder : pathlib.Path
    """
    folder = Path(folder)
    result.info["provenance"] = dict(
        command=None if command is None else shlex.join(map(str, command)),
        random_state=result.info.get("random_state"),
        python=platform.python_version(),
        versions=_versions(),
    )
    result.save(folder)
    shown = _figures(result, data, folder) if figures else None
    (folder / "README.md").write_text(_readme(result, folder, shown))
    return folder


def _versions():
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _figures(result, data, folder):
    """Draw the figures into ``folder``; return the model Fig. 4 shows (or None)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._figures import plot_prediction_traces, plot_roi_correlations

    fig = plot_roi_correlations(result)
    fig.savefig(folder / "fig3_roi_correlations.png", dpi=130)
    plt.close(fig)
    fig = plot_prediction_traces(result)
    fig.savefig(folder / "bold_traces.png", dpi=130)
    plt.close(fig)
    fitted = result.fitted
    name = next((n for n in _INTERPRETABLE if n in fitted), None)
    if name is None or data is None:
        return None
    from ..nn import branch_patterns, plot_branch_patterns

    patterns = branch_patterns(fitted[name], data.X, info=data.info)
    fig = plot_branch_patterns(
        patterns,
        data.info,
        show=False,
        title=f"Fig. 4: branch patterns of {_fig4_model(result, name)}, "
        f"fitted on the last fold ({result.traces.get('subject', '')}); "
        "the most heavily weighted branches",
    )
    fig.savefig(folder / "fig4_branch_patterns.png", dpi=110)
    plt.close(fig)
    return name


def _fig4_model(result, name):
    """``"compact (EEG2BoldRegressor(CompactNet), ranked 2nd of 6 by mean r)"``."""
    means = result.scores.groupby("model")["r"].mean().sort_values(ascending=False)
    plain = [m for m in means.index if "oracle" not in m]
    rank = plain.index(name) + 1
    description = result.info.get("models", {}).get(name, name)
    return f"'{name}' ({description}), ranked {rank} of {len(plain)} by mean r"


def _readme(result, folder, fig4_model):
    info = result.info
    provenance = info.get("provenance", {})
    subjects = ", ".join(map(str, dict.fromkeys(result.scores.get("subject", []))))
    files = {
        "summary.csv": "mean and sd of Pearson r per target and model (over folds and "
        "repeats), chance mean and 95th percentile, noise ceiling; last row the mean over "
        "targets",
        "scores.csv": "Pearson r per model, fold (test subject), repeat and target",
        "chance.csv": "chance-level r per surrogate repeat and target",
        "results.json": "the summary, the settings (`info`: preset, protocol, "
        "cross-validation, models, timings) and the provenance (command, seed, versions)",
        "fig3_roi_correlations.png": "Fig. 3: mean r over targets per model (± SE over "
        "folds), paired differences from the baseline, and a heat map of r per target",
        "bold_traces.png": "predicted and measured BOLD on the last fold's test part",
        "fig4_branch_patterns.png": "Fig. 4: spatial and temporal patterns of the "
        f"branches of '{fig4_model}'",
    }
    lines = [
        "# skeeg2bold report",
        "",
        f"Made by `{provenance.get('command') or 'skeeg2bold.experiment.save_report'}` "
        f"(seed {provenance.get('random_state')}).",
        "",
        f"- Test subjects: {subjects or 'see scores.csv'}; {info.get('n_folds')} fold(s) x "
        f"{info.get('n_repeats')} repeat(s); protocol {info.get('protocol', 'see results.json')}",
        f"- {info.get('n_windows')} windows from {info.get('n_subjects')} subjects; models: "
        + ", ".join(info.get("models", {})),
        "- Targets: differential ROIs (ROI minus the mean of the ROIs) and the common mode",
        f"- Python {provenance.get('python')}; "
        + ", ".join(f"{k} {v}" for k, v in provenance.get("versions", {}).items() if v),
        "",
        "## Files",
        "",
    ]
    lines += [f"- `{name}`: {text}" for name, text in files.items() if (folder / name).exists()]
    return "\n".join(lines) + "\n"
