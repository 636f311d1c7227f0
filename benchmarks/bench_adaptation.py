"""Per-subject adaptation by the target's labelled first minute, paper protocol.

For every simulator setting of ``bench_unmixing.py`` and every target
subject, one :class:`~skeeg2bold.ensemble.SubjectStackingRegressor` of the
linear members ``riemann``, ``aligned-logridge`` and ``logridge`` is fitted
on the paper protocol's training rows (the 7 other subjects and the target's
first 68.7 s) and scored (mean Pearson r over the 15 targets) on the target's
final 150 s. From the same fit, four models are read:

- ``riemann``: the Riemannian baseline (the first member);
- ``average``: the members averaged with equal weights,
  :class:`~skeeg2bold.ensemble.StandardizedAverageRegressor` (unadapted);
- ``stacked``: the pooled stacking weights for every subject (no
  per-subject adaptation, ``alpha=inf``);
- ``adapted``: the target's own weights, learned from its labelled first
  minute and shrunk toward the pooled ones (``alpha="auto"``).

Networks are left out: cross-fitting them for every target and setting
does not fit the time of one run on one thread.

Run: ``python benchmarks/bench_adaptation.py [--settings default,bursts,...]``
"""

import argparse
import copy
import time
import warnings

import numpy as np
from bench_unmixing import SETTINGS, TUNING, load_setting, models, splits
from threadpoolctl import threadpool_limits

from skeeg2bold.ensemble import SubjectStackingRegressor
from skeeg2bold.metrics import pearson_r

MEMBERS = ("riemann", "aligned-logridge", "logridge")
VARIANTS = ("riemann", "average", "stacked", "adapted")


def _variants(model):
    """The four fitted models read from one fitted SubjectStackingRegressor."""
    stacked = copy.copy(model)
    stacked.subject_weights_ = {}
    average = copy.copy(stacked)
    average.weights_ = np.full(len(MEMBERS), 1.0 / len(MEMBERS))
    return dict(riemann=model.estimators_[0], average=average, stacked=stacked, adapted=model)


def run_setting(name):
    """Scores (variant -> subject -> mean r) and the chosen alphas of one setting."""
    _, data, y, _ = load_setting(name)
    factories = models()
    scores = {v: {} for v in VARIANTS}
    alphas = {}
    for subject, train, test in splits(data, "paper"):
        model = SubjectStackingRegressor([(m, factories[m]()) for m in MEMBERS])
        model.fit(data.X[train], y[train])
        alphas[subject] = model.alpha_
        for v, fitted in _variants(model).items():
            scores[v][subject] = float(pearson_r(y[test], fitted.predict(data.X[test])).mean())
    return scores, alphas


def _diff(per, ref, subjects):
    d = np.array([per[s] - ref[s] for s in subjects])
    return f"{d.mean():+.3f} ± {d.std(ddof=1) / np.sqrt(len(d)):.3f} ({(d > 0).sum()}/{len(d)})"


def report(name, scores, alphas, seconds):
    subjects = sorted(scores["riemann"])
    tuning = [s for s in subjects if s in TUNING]
    lines = [
        f"\n### `{name}` ({SETTINGS[name][2]}; {seconds:.0f} s), chosen alpha per target: "
        + ", ".join(f"{s} {a:g}" for s, a in alphas.items()),
        "\n| model | all 8 | tuning | vs riemann (± SE, wins) | vs average (± SE, wins) |",
        "|---|---|---|---|---|",
    ]
    for v, per in scores.items():
        mean = np.mean([per[s] for s in subjects])
        tune = np.mean([per[s] for s in tuning])
        vs_r = "-" if v == "riemann" else _diff(per, scores["riemann"], subjects)
        vs_a = "-" if v in ("riemann", "average") else _diff(per, scores["average"], subjects)
        lines.append(f"| {v} | {mean:.3f} | {tune:.3f} | {vs_r} | {vs_a} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args(argv)
    settings = args.settings.split(",")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}; choose from {sorted(SETTINGS)}")
    warnings.filterwarnings("ignore", message="An ill-conditioned matrix")
    with threadpool_limits(1):
        for name in settings:
            start = time.perf_counter()
            scores, alphas = run_setting(name)
            print(report(name, scores, alphas, time.perf_counter() - start), flush=True)


if __name__ == "__main__":
    main()
