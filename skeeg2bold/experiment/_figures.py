"""Figures of an experiment: per-ROI accuracy (paper Fig. 3) and predicted traces."""

import numpy as np

__all__ = ["plot_roi_correlations", "plot_prediction_traces"]

#: One colour per model: ``skeeg2bold run``'s full preset draws eight models
#: and two oracles.
_COLORS = [
    "#1f4e79",
    "#c55a11",
    "#548235",
    "#7030a0",
    "#bf9000",
    "#2e75b6",
    "#a61c3c",
    "#2f9e8f",
    "#7f7f7f",
    "#e377c2",
]


def plot_roi_correlations(result, *, ax=None, show=False):
    """Pearson r per target with its sd for every model, the chance line and the ceiling.

    The paper's Fig. 3: one row per ROI (and the common mode), bars for the
    models (mean over folds and repeats, error bars one sd), the chance level
    as a dashed vertical line (95th percentile of the chance distribution,
    pooled over targets) with per-target chance marks, and, for simulated
    data, the noise ceiling as a black tick.

    Parameters
    ----------
    result : ExperimentResult
    ax : matplotlib Axes, default=None
    show : bool, default=False

    Returns
    -------
    fig : matplotlib Figure
    """
    import matplotlib.pyplot as plt

    targets = result.target_names
    models = list(dict.fromkeys(result.scores["model"]))
    stats = result.scores.groupby(["model", "target"])["r"].agg(["mean", "std"])
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(targets) + 1.6), layout="constrained")
    else:
        fig = ax.figure
    pos = np.arange(len(targets))[::-1]
    height = 0.8 / len(models)
    for k, model in enumerate(models):
        s = stats.loc[model].reindex(targets)
        ax.barh(
            pos + (len(models) - 1 - 2 * k) * height / 2,
            s["mean"],
            height=height,
            xerr=s["std"].fillna(0.0),
            color=_COLORS[k % len(_COLORS)],
            label=model,
            error_kw=dict(lw=0.8, capsize=2),
        )
    if result.chance is not None and len(result.chance):
        per_target = result.chance.groupby("target")["r"].quantile(0.95).reindex(targets)
        ax.scatter(
            per_target,
            pos,
            marker="|",
            s=120,
            color="0.45",
            zorder=3,
            label="chance per target (95th pct.)",
        )
        line = float(result.chance["r"].quantile(0.95))
        ax.axvline(
            line,
            color="0.3",
            ls="--",
            lw=1.2,
            label=f"chance (95th pct., {', '.join(result.chance['model'].unique())})",
        )
    if result.ceiling is not None:
        ax.scatter(
            result.ceiling.reindex(targets),
            pos,
            marker="D",
            s=18,
            color="k",
            zorder=4,
            label="noise ceiling",
        )
    ax.axvline(0, color="k", lw=0.6)
    ax.set_yticks(pos, targets)
    ax.set_xlabel("Pearson r (test set), mean ± sd over folds/repeats")
    ax.set_title("EEG → BOLD accuracy per target")
    fig.legend(loc="outside lower center", ncol=3, fontsize="small", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    if show:
        plt.show()
    return fig


def plot_prediction_traces(result, *, targets=None, show=False):
    """Predicted and true BOLD over the test windows of the last fold.

    Parameters
    ----------
    result : ExperimentResult
    targets : list of str, default=None
        Targets to draw (default: up to four, the common mode included).
    show : bool, default=False

    Returns
    -------
    fig : matplotlib Figure
    """
    import matplotlib.pyplot as plt

    names = result.target_names
    if targets is None:
        targets = names[:3] + ([names[-1]] if len(names) > 3 else [])
    missing = [t for t in targets if t not in names]
    if missing:
        raise ValueError(f"targets {missing} are not among {names}.")
    tr = result.traces
    y_true = np.asarray(tr["y_true"]).reshape(len(tr["times"]), -1)
    fig, axes = plt.subplots(
        len(targets),
        1,
        figsize=(10, 1.9 * len(targets)),
        sharex=True,
        layout="constrained",
        squeeze=False,
    )
    for ax, target in zip(axes[:, 0], targets):
        k = names.index(target)
        truth = _z(y_true[:, k])
        ax.plot(tr["times"], truth, color="k", lw=1.6, label="measured BOLD")
        for j, (model, pred) in enumerate(tr["y_pred"].items()):
            p = _z(pred[:, k])
            r = np.corrcoef(truth, p)[0, 1] if np.std(p) > 0 else np.nan
            ax.plot(
                tr["times"],
                p,
                color=_COLORS[j % len(_COLORS)],
                lw=1.1,
                label=f"{model} (r = {r:.2f})",
            )
        ax.set_ylabel("z-score")
        ax.set_title(target, loc="left", fontsize="medium")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="x-small", frameon=False)
    axes[-1, 0].set_xlabel(f"time (s), subject {tr.get('subject', '')} test part")
    fig.suptitle("Predicted vs measured BOLD (z-scored)")
    if show:
        plt.show()
    return fig


def _z(x):
    x = np.asarray(x, dtype=float)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()
