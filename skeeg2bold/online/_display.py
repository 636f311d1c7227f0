"""What an operator sees of a running twin: printed rows, the CSV log, a live figure."""

import warnings
from collections import deque

import numpy as np

__all__ = ["LATENCY_NOTE", "LivePlot", "RowFormatter"]

#: Why a replay's latencies can be negative.
LATENCY_NOTE = (
    "latency = LSL time of the push - time stamp of the window's last EEG sample. "
    "On a replay (mne-lsl's PlayerLSL, 'skeeg2bold replay') each chunk is stamped as "
    "if pushed one chunk later than it is, so latencies read up to chunk-size / sfreq "
    "low and can be negative; on an amplifier's stream they are the real delay."
)


class RowFormatter:
    """Header, printed line and CSV row of each :class:`TwinStep` of a twin.

    Parameters
    ----------
    twin : OnlineTwin
        Connected.
    show : int
        Targets printed per line (all go to the CSV).
    """

    def __init__(self, twin, show):
        self.names = list(twin.target_names_)
        self.shown = self.names[: max(show, 0)]
        self.intervals = twin._intervals
        self.ood = "ood_p" in twin.channel_names_
        self.t0 = None

    def header(self):
        """The header of the printed rows."""
        values = "  ".join(self.shown) + (" [interval]" if self.intervals else "")
        ood = "  ood_p" if self.ood else ""
        return f"{'t (s)':>8}  {'status':11s} {'latency':>9}{ood}  {values}"

    def line(self, row):
        """One printed row: seconds since the first row, status, latency, values."""
        if self.t0 is None:
            self.t0 = row.timestamp
        parts = []
        for k, name in enumerate(self.shown):
            text = f"{name}={row.prediction[k]:+.3f}"
            if self.intervals and row.lower is not None:
                text += f" [{row.lower[k]:+.3f},{row.upper[k]:+.3f}]"
            parts.append(text)
        more = len(self.names) - len(self.shown)
        ood = f"  {row.ood_p:5.3f}" if self.ood else ""
        return (
            f"{row.timestamp - self.t0:8.2f}  {row.status:11s} {1e3 * row.latency:6.1f} ms"
            f"{ood}  {'  '.join(parts)}" + (f"  (+{more} more)" if more > 0 else "")
        )

    def csv_header(self):
        """Columns of the CSV log."""
        columns = ["lsl_time", "status", "latency_ms", *self.names]
        if self.intervals:
            columns += [f"{n}_lo" for n in self.names] + [f"{n}_hi" for n in self.names]
        return columns + (["ood_p"] if self.ood else [])

    def csv_row(self, row):
        """One row of the CSV log."""
        values = [row.prediction]
        if self.intervals:
            nan = np.full(len(self.names), np.nan)
            values += [nan if row.lower is None else row.lower]
            values += [nan if row.upper is None else row.upper]
        out = [f"{row.timestamp:.6f}", row.status, f"{1e3 * row.latency:.3f}"]
        out += [f"{v:.6g}" for v in np.concatenate(values)]
        return out + ([f"{row.ood_p:.6g}"] if self.ood else [])


#: Status -> (row in the status panel, colour).
STATUSES = {
    "ok": (0, "tab:green"),
    "ood": (1, "tab:orange"),
    "calibrating": (2, "tab:blue"),
    "gap": (3, "tab:red"),
    "nonfinite": (4, "tab:purple"),
    "dropout": (5, "black"),
    "cleaning": (6, "tab:gray"),
}


class LivePlot:
    """The last ``n_rows`` rows: predicted BOLD, latency and status over time.

    Top: each shown target z-scored over the plot and stacked, in its own
    colour, with its prediction interval as a band when the model gives
    intervals; differential ROIs are labelled so. Middle: latency (ms).
    Bottom: each row's status. Time in seconds since the first row. Redrawn
    after every row (in the twin's loop, after the row was pushed, so
    drawing delays the next poll, never the row itself).

    Parameters
    ----------
    names : list of str
        Targets to plot.
    differential : bool, default=False
        The targets other than ``"common_mode"`` are differential ROIs
        (the ROI minus the mean of the ROIs).
    n_rows : int, default=120
    """

    def __init__(self, names, *, differential=False, n_rows=120):
        import matplotlib.pyplot as plt

        self.plt = plt
        self.names = list(names)
        self.rows = deque(maxlen=n_rows)
        self.t0 = None
        n = len(self.names)
        self.fig, (self.ax, self.ax_latency, self.ax_status) = plt.subplots(
            3,
            1,
            sharex=True,
            figsize=(10, 3.5 + 0.45 * n),
            gridspec_kw={"height_ratios": [max(n, 2), 1.5, 2.0]},
        )
        colours = plt.get_cmap("tab20" if n > 10 else "tab10").colors
        self.colours = [colours[k % len(colours)] for k in range(n)]
        self.lines = [self.ax.plot([], [], lw=1.2, color=c)[0] for c in self.colours]
        self.bands = [None] * n
        labels = [
            f"{name} (differential)" if differential and name != "common_mode" else name
            for name in self.names
        ]
        self.ax.set_yticks(-3.0 * np.arange(n), labels)
        for tick, colour in zip(self.ax.get_yticklabels(), self.colours):
            tick.set_color(colour)
        self.ax.set_title(
            "predicted BOLD (each target z-scored over the plot; band: prediction interval)"
        )
        (self.latency_line,) = self.ax_latency.plot([], [], ".-", lw=0.8, ms=3, color="0.3")
        self.ax_latency.axhline(0, color="0.7", lw=0.8)
        self.ax_latency.set_ylabel("latency\n(ms)")
        self.status_dots = self.ax_status.scatter([], [], s=12)
        self.ax_status.set_yticks(
            [v[0] for v in STATUSES.values()], list(STATUSES), fontsize="small"
        )
        self.ax_status.set_ylim(-0.5, len(STATUSES) - 0.5)
        self.ax_status.invert_yaxis()
        self.ax_status.set_xlabel("time since start (s)")
        self.fig.tight_layout()
        if plt.isinteractive() or plt.get_backend().lower() not in ("agg", "pdf", "svg"):
            plt.show(block=False)

    def update(self, row):
        """Add a :class:`TwinStep` and redraw."""
        if self.t0 is None:
            self.t0 = row.timestamp
        n = len(self.names)
        nan = np.full(n, np.nan)
        lower = nan if row.lower is None else row.lower[:n]
        upper = nan if row.upper is None else row.upper[:n]
        self.rows.append(
            (row.timestamp - self.t0, row.prediction[:n], lower, upper, row.latency, row.status)
        )
        t = np.array([r[0] for r in self.rows])
        y, lo, hi = (np.array([r[k] for r in self.rows]) for k in (1, 2, 3))
        with warnings.catch_warnings():  # a target with no prediction yet
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, sd = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        for k, line in enumerate(self.lines):
            offset = -3.0 * k
            line.set_data(t, (y[:, k] - mean[k]) / sd[k] + offset)
            if self.bands[k] is not None:
                self.bands[k].remove()
            self.bands[k] = self.ax.fill_between(
                t,
                (lo[:, k] - mean[k]) / sd[k] + offset,
                (hi[:, k] - mean[k]) / sd[k] + offset,
                color=self.colours[k],
                alpha=0.2,
                lw=0,
            )
        self.ax.set_xlim(t[0], max(t[-1], t[0] + 1.0))
        self.ax.set_ylim(-3.0 * n, 3.0)
        latency = 1e3 * np.array([r[4] for r in self.rows])
        self.latency_line.set_data(t, latency)
        finite = latency[np.isfinite(latency)]
        if finite.size:
            low, high = min(finite.min(), 0.0), max(finite.max(), 1.0)
            self.ax_latency.set_ylim(low - 0.1 * (high - low), high + 0.1 * (high - low))
        statuses = [STATUSES.get(r[5], (len(STATUSES) - 1, "black")) for r in self.rows]
        self.status_dots.set_offsets(np.column_stack([t, [s[0] for s in statuses]]))
        self.status_dots.set_color([s[1] for s in statuses])
        self.fig.canvas.draw_idle()
        self.fig.canvas.flush_events()

    def save(self, path):
        """Write the figure (PNG) and close it; return ``path``."""
        self.fig.savefig(path, dpi=100)
        self.plt.close(self.fig)
        return path
