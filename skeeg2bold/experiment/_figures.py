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


def plot_roi_correlations(result, *, baseline=None, show=False):
    """Accuracy of every model: its mean over targets first, then each target.

    The paper's Fig. 3, in three panels. Left, top: each model's mean
    Pearson r over targets, averaged over its repeats within a fold, with
    the standard error over folds (target subjects) as error bars; the
    chance level (95th percentile of the chance distribution, pooled over
    targets) as a dashed line and, for simulated data, the mean noise
    ceiling as a dotted one. Left, bottom: the paired difference of each
    model's mean r from the baseline's, fold by fold, with its standard
    error over folds. Right: a heat map of the mean r per target and model,
    with the chance (95th percentile per target) and the ceiling as the last
    columns. The title names the tested subjects and the number of folds
    and repeats the error bars are over.

    Parameters
    ----------
    result : ExperimentResult
        Its ``scores`` need the columns ``model``, ``target``, ``fold`` and
        ``r`` (``repeat`` and ``subject`` are used when present).
    baseline : str, default=None
        The model the differences are taken from: ``"logridge"`` if fitted,
        else the last model that is not an oracle.
    show : bool, default=False

    Returns
    -------
    fig : matplotlib Figure
    """
    import matplotlib.pyplot as plt

    scores = result.scores
    targets = list(result.target_names)
    models = list(dict.fromkeys(scores["model"]))
    if baseline is None:
        plain = [m for m in models if "oracle" not in m]
        baseline = "logridge" if "logridge" in models else (plain or models)[-1]
    if baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not among the models {models}.")
    # Mean over targets, then over the repeats of a fold: one value per fold.
    per_fold = scores.groupby(["model", "fold"], sort=False)["r"].mean().unstack("fold")
    per_fold = per_fold.reindex(models)
    n_folds = per_fold.shape[1]
    mean = per_fold.mean(axis=1)
    diff = per_fold.sub(per_fold.loc[baseline], axis=1)
    se, diff_se = (_se(v) for v in (per_fold, diff))
    table = scores.groupby(["target", "model"])["r"].mean().unstack("model")
    table = table.reindex(index=targets, columns=models)
    extra = {}
    if result.chance is not None and len(result.chance):
        extra["chance 95%"] = result.chance.groupby("target")["r"].quantile(0.95)
    if result.ceiling is not None:
        extra["ceiling"] = result.ceiling
    for name, values in extra.items():
        table[name] = _reindex(values, targets)

    fig = plt.figure(figsize=(13, 0.32 * len(targets) + 3.4), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.35], height_ratios=[1, 1])
    ax_mean, ax_diff = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])
    ax_map = fig.add_subplot(grid[:, 1])
    pos = np.arange(len(models))[::-1]
    colours = [_COLORS[k % len(_COLORS)] for k in range(len(models))]
    ax_mean.barh(pos, mean, xerr=se.fillna(0.0), color=colours, error_kw=dict(lw=0.9, capsize=3))
    if "chance 95%" in extra:
        line = float(result.chance["r"].quantile(0.95))
        ax_mean.axvline(line, color="0.3", ls="--", lw=1.1, label=f"chance 95th pct. ({line:+.2f})")
    if "ceiling" in extra:
        top = float(np.nanmean(result.ceiling))
        ax_mean.axvline(top, color="k", ls=":", lw=1.1, label=f"mean noise ceiling ({top:.2f})")
    ax_mean.set_yticks(pos, models)
    ax_mean.set_xlabel("mean r over targets")
    ax_mean.set_title("Mean over targets (± SE over folds)", loc="left", fontsize="medium")
    if ax_mean.get_legend_handles_labels()[0]:
        ax_mean.legend(fontsize="x-small", loc="lower right", frameon=False)
    ax_diff.barh(
        pos,
        diff.mean(axis=1),
        xerr=diff_se.fillna(0.0),
        color=colours,
        error_kw=dict(lw=0.9, capsize=3),
    )
    ax_diff.set_yticks(pos, models)
    ax_diff.set_xlabel(f"mean r minus {baseline}'s, paired by fold")
    ax_diff.set_title(
        f"Difference from {baseline} (± SE over folds)", loc="left", fontsize="medium"
    )
    for ax in (ax_mean, ax_diff):
        ax.axvline(0, color="k", lw=0.6)
        ax.grid(axis="x", alpha=0.3)

    values = table.to_numpy(dtype=float)
    limit = max(float(np.nanmax(np.abs(values))), 1e-3) if np.isfinite(values).any() else 1.0
    image = ax_map.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax_map.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color="w" if abs(v) > 0.6 * limit else "k",
            )
    ax_map.set_xticks(
        np.arange(values.shape[1]), list(table.columns), rotation=40, ha="right", fontsize="small"
    )
    ax_map.set_yticks(np.arange(len(targets)), targets, fontsize="small")
    if len(models) < values.shape[1]:
        ax_map.axvline(len(models) - 0.5, color="k", lw=1.2)
    ax_map.set_title("Mean r per target (over folds and repeats)", loc="left", fontsize="medium")
    fig.colorbar(image, ax=ax_map, shrink=0.6, label="Pearson r (test set)")
    fig.suptitle(f"EEG → BOLD accuracy: {_tested(scores, n_folds)}", fontsize="medium")
    if show:
        plt.show()
    return fig


def _reindex(values, index):
    """``values`` (a Series by target) in the order of ``index``, as floats."""
    return np.asarray(values.reindex(index), dtype=float)


def _se(frame):
    """Standard error of each row over its columns (NaN with fewer than two)."""
    n = frame.notna().sum(axis=1)
    return frame.std(axis=1, ddof=1) / np.sqrt(n.where(n > 1))


def _tested(scores, n_folds):
    """ "subjects sub-07, sub-08 tested; 2 folds x 1 repeat" from the scores."""
    text = f"{n_folds} fold{'s' if n_folds != 1 else ''}"
    if "repeat" in scores:
        n_repeats = scores["repeat"].nunique()
        text += f" x {n_repeats} repeat{'s' if n_repeats != 1 else ''}"
    if "subject" in scores:
        subjects = ", ".join(map(str, dict.fromkeys(scores["subject"])))
        return f"tested on {subjects}; {text}"
    return text


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
