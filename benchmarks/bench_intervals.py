"""Conformal prediction intervals: empirical coverage per ROI and width.

For every simulator setting and protocol, every subject in turn is the
target; the model is the log-envelope ridge (``make_ridge_baseline(log=True)``,
chosen for speed: its envelope features do not depend on the training
windows, so they are computed once per setting and only the scaler and the
ridge are refitted per split) wrapped in
:class:`~skeeg2bold.uncertainty.ConformalRegressor`. Targets: the 14
differential ROIs and the common mode.

Calibration, as the user guide recommends for each protocol:

- ``paper``: train on the other subjects and the target's first 68.7 s,
  calibrate on the target's next 60 s (the protocol's validation block,
  ``cv="prefit"``), test on its final 150 s;
- ``paper-pooled``: the paper protocol's model and training windows, but
  calibrated on held-out-subject residuals of all its training windows
  (``cv=GroupKFold(3)`` over the 7 other subjects and the target's first
  68.7 s, the deployed model refitted on all of them), not on the 60 s
  block alone;
- ``loso``: train on the other subjects only; calibrate on their
  held-out-subject residuals (``cv=GroupKFold(3)``: each third of the 7
  subjects predicted by a model fitted on the others; the deployed model
  refitted on all of them); test on the target's final 150 s;
- ``loso-blocks``: as ``loso``, but calibrated on the last fifth of each
  training subject (the class's default ``cv``, ``LastBlockSplit(0.2)``),
  not on held-out subjects.

Reported per setting, protocol and nominal coverage (80 %, 90 %): the
empirical coverage of the test windows averaged over the 8 subjects, for
each ROI (its mean, lowest and highest over the 15 targets, and the
targets within 5 points of nominal), the spread over subjects, and the
interval width divided by the target's standard deviation on the test
windows (the width of an interval that knows nothing, for Gaussian BOLD:
2.56 at 80 %, 3.29 at 90 %).

Run: ``python benchmarks/bench_intervals.py [--settings default,bursts]``
(about 9 min on two cores shared with other jobs; the data of each setting
take about a minute).
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from skeeg2bold import datasets, make_windows
from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.model_selection import LastBlockSplit, PaperProtocolSplit
from skeeg2bold.targets import CommonModeSplitter
from skeeg2bold.uncertainty import ConformalRegressor

SETTINGS = {
    "default": ("simulate_eeg_fmri", dict(random_state=0)),
    "bursts": ("simulate_burst_eeg_fmri", dict(random_state=0)),
}
COVERAGES = (0.8, 0.9)
PROTOCOLS = ("paper", "paper-pooled", "loso", "loso-blocks")


def load_setting(name):
    """Log-envelope features, targets, subjects and times of a setting."""
    family, kwargs = SETTINGS[name]
    sim = getattr(datasets, family)(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_windows(sim.recordings, window=10.0, sfreq=100.0, dtype="float32")
    pipeline = make_ridge_baseline(log=True)
    features = pipeline[0].fit_transform(data.X)
    y = CommonModeSplitter().fit_transform(data.y)
    return data, features, y, pipeline[1:]


def run_setting(name):
    """Coverage and relative width per (protocol, coverage, subject, target)."""
    t0 = time.perf_counter()
    data, F, y, ridge = load_setting(name)
    print(f"  {name}: features {F.shape} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    groups = np.asarray(data.groups)
    subjects = sorted(np.unique(groups))
    paper = PaperProtocolSplit(subjects=subjects)
    out = {}
    for subject, (train, valid, test) in zip(
        subjects, paper.split_with_validation(data.X, groups=groups)
    ):
        sd = y[test].std(axis=0)
        fitted = clone(ridge).fit(F[train], y[train])
        others = np.flatnonzero(groups != subject)
        times = np.asarray(data.X.times)
        for coverage in COVERAGES:
            models = {
                "paper": ConformalRegressor(fitted, coverage=coverage, cv="prefit").fit(
                    F[valid], y[valid]
                ),
                "paper-pooled": ConformalRegressor(ridge, coverage=coverage, cv=GroupKFold(3)).fit(
                    F[train], y[train], groups=groups[train]
                ),
                "loso": ConformalRegressor(ridge, coverage=coverage, cv=GroupKFold(3)).fit(
                    F[others], y[others], groups=groups[others]
                ),
                "loso-blocks": ConformalRegressor(
                    ridge,
                    coverage=coverage,
                    cv=LastBlockSplit(0.2, window=10.0, times=times[others]),
                ).fit(F[others], y[others], groups=groups[others]),
            }
            for protocol, model in models.items():
                _, lo, hi = model.predict(F[test], return_interval=True)
                covered = ((y[test] >= lo) & (y[test] <= hi)).mean(axis=0)
                width = (hi - lo).mean(axis=0) / sd
                out[protocol, coverage, subject] = covered, width
        print(f"  {name}: {subject} done at {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out, len(y), time.perf_counter() - t0


def report(name, result, n_windows, seconds):
    family, kwargs = SETTINGS[name]
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    lines = [
        f"\n### Setting `{name}` ({family}({args}); {n_windows} windows; {seconds:.0f} s)\n",
        "| protocol | nominal | coverage, mean over ROIs | lowest ROI | highest ROI "
        "| ROIs within ±5 points | subjects' range | width / BOLD SD |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for protocol in PROTOCOLS:
        for coverage in COVERAGES:
            keys = [k for k in result if k[:2] == (protocol, coverage)]
            covered = np.array([result[k][0] for k in keys])  # (subjects, targets)
            width = np.array([result[k][1] for k in keys])
            per_roi = covered.mean(axis=0)
            per_subject = covered.mean(axis=1)
            within = int(np.sum(np.abs(per_roi - coverage) <= 0.05))
            lines.append(
                f"| {protocol} | {coverage:.0%} | {per_roi.mean():.1%} | {per_roi.min():.1%} "
                f"| {per_roi.max():.1%} | {within}/{per_roi.size} "
                f"| {per_subject.min():.1%}–{per_subject.max():.1%} | {width.mean():.2f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print("## intervals")
    print(
        "\nConformalRegressor around the log-envelope ridge; empirical coverage of the "
        "target's final 150 s, mean over the 8 target subjects (see the script's docstring)."
    )
    with threadpool_limits(args.threads):
        for name in args.settings.split(","):
            result, n_windows, seconds = run_setting(name)
            print(report(name, result, n_windows, seconds), flush=True)


if __name__ == "__main__":
    main()
