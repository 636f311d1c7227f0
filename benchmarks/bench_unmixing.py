"""Spatial unmixing: channel-envelope, Riemannian and deep models against the unmixing oracle.

For every simulator setting and protocol, every subject in turn is the target;
mean Pearson r over the 15 targets (14 differential ROIs + common mode) of:

- ``ridge``, ``logridge``: the lagged-envelope ridge baseline, linear and log
  envelopes (channel envelopes: no unmixing);
- ``aligned-logridge``: the log-envelope ridge behind
  :class:`~skeeg2bold.features.SubjectAlignment` (what alignment alone
  gives, without a network);
- ``riemann``: :func:`~skeeg2bold.baselines.make_riemann_baseline` (band
  covariances, per-subject re-centring, tangent space, ridge);
- ``bandpower``, ``compact``, ``aligned-compact``, ``eeg2boldnet``: the
  networks (:class:`~skeeg2bold.nn.BandPowerNet`, log band power of learned
  spatial filters; :class:`~skeeg2bold.nn.CompactNet` without and with
  :class:`~skeeg2bold.features.SubjectAlignment` in front, and the paper's
  network at its defaults), when asked for with ``--models``;
- ``oracle``: the unmixing oracle, the log-envelope ridge on the true source
  time courses (:func:`~skeeg2bold.datasets.source_recordings`): the same
  features with perfect unmixing;
- ``oracle-cortical``: the same on the cortical sources only
  (``source_recordings(sim, deep=False)``): perfect unmixing of the cortex,
  none of the deep sources, whose dipole direction differs in every subject;
- ``ceiling``: the simulator's noise ceiling on the same test volumes;
- ``chance``: the log-envelope ridge trained on temporally unrelated pairs.

Each model's column ``vs logridge`` is its mean paired difference from the
log-envelope ridge over the 8 target subjects, with the standard error of
that mean: a margin within about two standard errors is not a win.

Settings: ``default`` (``simulate_eeg_fmri(random_state=0)``, the package's
default data), ``seed1`` (another draw of heads, couplings and signals), and
``hard`` (weaker coupling and more background: ``invisible_fraction=0.6``,
``eeg_noise=1.5``). Protocols: ``paper`` (train on the other subjects and the
target's first 68.7 s, test on its final 150 s) and ``loso`` (a subject never
seen with fMRI: train on the other subjects only, test on the same final
150 s; re-centring and alignment take the new subject's reference from the
test EEG). Settings were chosen on sub-01 and sub-02 of the default data; the
tables report those two and the other six separately.

Run: ``python benchmarks/bench_unmixing.py [--settings default,seed1,hard]
[--protocols paper,loso] [--models logridge,riemann,...] [--threads 1]``
(default: every model, about an hour on one thread for the three settings)
"""

import argparse
import functools
import json
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from skeeg2bold import datasets, make_windows
from skeeg2bold.baselines import make_ridge_baseline, make_riemann_baseline
from skeeg2bold.datasets import ceiling_for, source_recordings
from skeeg2bold.metrics import pearson_r
from skeeg2bold.model_selection import PaperProtocolSplit, chance_level
from skeeg2bold.targets import CommonModeSplitter

#: Simulator settings: name -> (simulator family, its arguments, role). Models
#: and their defaults are chosen on the "tuning" settings only (and there on
#: the TUNING subjects); the "held-out" settings are reported apart.
SETTINGS = {
    "default": ("simulate_eeg_fmri", dict(random_state=0), "tuning"),
    "seed1": ("simulate_eeg_fmri", dict(random_state=1), "held-out"),
    "hard": (
        "simulate_eeg_fmri",
        dict(random_state=2, invisible_fraction=0.6, eeg_noise=1.5),
        "held-out",
    ),
    "bursts": ("simulate_burst_eeg_fmri", dict(random_state=0), "tuning"),
    "bursts-seed1": ("simulate_burst_eeg_fmri", dict(random_state=1), "held-out"),
    "bursts-weak": (
        "simulate_burst_eeg_fmri",
        dict(random_state=2, coupling=0.6, eeg_noise=1.5),
        "held-out",
    ),
}
TUNING = ("sub-01", "sub-02")
#: Paired differences are reported from these models.
REFERENCES = ("logridge", "riemann")
#: The unmixing oracles: name -> whether the deep sources are kept.
ORACLES = {"oracle": True, "oracle-cortical": False}
# 14 ROIs -> 14 differential ROIs + common mode, as CommonModeSplitter.
TRANSFORM = np.column_stack([np.eye(14) - 1 / 14, np.full(14, 1 / 14)])


def _aligned(factory):
    """``factory``'s model behind :class:`~skeeg2bold.features.SubjectAlignment`."""
    from sklearn.pipeline import make_pipeline

    from skeeg2bold.features import SubjectAlignment

    return lambda: make_pipeline(SubjectAlignment(), factory())


def _networks():
    from skeeg2bold.nn import BandPowerNet, CompactNet, EEG2BoldRegressor

    def compact():
        return EEG2BoldRegressor(CompactNet, random_state=0)

    return {
        "bandpower": lambda: EEG2BoldRegressor(BandPowerNet, random_state=0),
        "compact": compact,
        "aligned-compact": _aligned(compact),
        "eeg2boldnet": lambda: EEG2BoldRegressor(random_state=0),
    }


def _logridge():
    return make_ridge_baseline(log=True)


#: Ensembles (StandardizedAverageRegressor) -> their members.
ENSEMBLES = {
    "average": ("riemann", "aligned-compact"),
    "average3": ("riemann", "aligned-logridge", "aligned-compact"),
    "average4": ("riemann", "compact", "aligned-compact", "eeg2boldnet"),
}


def _average(members):
    """:class:`~skeeg2bold.ensemble.StandardizedAverageRegressor` of ``members``."""
    from skeeg2bold.ensemble import StandardizedAverageRegressor

    return StandardizedAverageRegressor(list(members.items()))


def models():
    """Model name -> factory of an unfitted model.

    Besides the models of the module docstring, the ENSEMBLES: ``average``,
    the Riemannian baseline and ``aligned-compact`` averaged by
    :class:`~skeeg2bold.ensemble.StandardizedAverageRegressor` (each
    member's predictions standardised by their mean and standard deviation
    over the target's own training windows, the first 68.7 s under the
    paper's protocol, then averaged); ``average3`` adds ``aligned-logridge``;
    ``average4`` averages the Riemannian baseline and the three networks
    ``compact``, ``aligned-compact`` and ``eeg2boldnet``.
    """
    factories = {
        "ridge": make_ridge_baseline,
        "logridge": _logridge,
        "aligned-logridge": _aligned(_logridge),
        "riemann": make_riemann_baseline,
        **_networks(),
    }
    for name, members in ENSEMBLES.items():
        factories[name] = functools.partial(
            lambda members: _average({m: factories[m]() for m in members}), members
        )
    return factories


def _fit_ensemble(name, fitted_members, X, y):
    """An ensemble whose members were fitted on the same rows in this fold.

    The members enter frozen (:class:`sklearn.frozen.FrozenEstimator`), so the
    ensemble's ``fit`` only learns its standardisation: the same fitted
    estimator as ``models()[name]().fit(X, y)`` (the members' fits are
    deterministic), at the cost of its members' predictions. Its fit time is
    the members' plus that.
    """
    from sklearn.frozen import FrozenEstimator

    members = {m: FrozenEstimator(fitted_members[m]) for m in ENSEMBLES[name]}
    return _average(members).fit(X, y)


def splits(data, protocol):
    """(subject, train, test) for every target subject."""
    subjects = sorted(np.unique(data.groups))
    paper = PaperProtocolSplit(subjects=subjects)
    for subject, (train, test) in zip(subjects, paper.split(data.X)):
        if protocol == "loso":
            train = np.flatnonzero(data.groups != subject)
        yield subject, train, test


def load_setting(name):
    """The simulation, its windows, targets and oracle windows of a setting."""
    family, kwargs, _ = SETTINGS[name]
    sim = getattr(datasets, family)(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_windows(sim.recordings, window=10.0, sfreq=100.0, dtype="float32")
        oracles = {
            oracle: make_windows(
                source_recordings(sim, deep=deep), window=10.0, sfreq=100.0, dtype="float32"
            ).X
            for oracle, deep in ORACLES.items()
        }
    assert all(np.allclose(X.times, data.X.times) for X in oracles.values())
    return sim, data, CommonModeSplitter().fit_transform(data.y), oracles


def run_setting(name, protocol, model_names, threads=1):
    """Scores of every model on one setting and protocol: a dict of plain types."""
    with threadpool_limits(threads):
        import torch

        torch.set_num_threads(threads)
        warnings.filterwarnings("ignore", message="An ill-conditioned matrix")
        t0 = time.perf_counter()
        sim, data, y, oracles = load_setting(name)
        chance = chance_level(
            make_ridge_baseline(log=True), data.X, y, n_repeats=3, random_state=0
        ).mean.mean()
        factories = models()
        fitted = [*model_names, *ORACLES]
        scores = {m: {} for m in [*fitted, "ceiling"]}
        times = {m: [] for m in fitted}
        for subject, train, test in splits(data, protocol):
            done, spent = {}, {}
            for m in fitted:
                X = oracles.get(m, data.X)
                start = time.perf_counter()
                if m in ENSEMBLES and all(k in done for k in ENSEMBLES[m]):
                    model = _fit_ensemble(m, done, X[train], y[train])
                    spent[m] = sum(spent[k] for k in ENSEMBLES[m])
                else:
                    model = make_ridge_baseline(log=True) if m in ORACLES else factories[m]()
                    model.fit(X[train], y[train])
                    spent[m] = 0.0
                spent[m] += time.perf_counter() - start
                times[m].append(spent[m])
                done[m] = model
                scores[m][subject] = float(pearson_r(y[test], model.predict(X[test])).mean())
            test_times = data.X.times[test]
            scores["ceiling"][subject] = float(
                ceiling_for(
                    sim,
                    TRANSFORM,
                    subjects=[subject],
                    tmin=test_times.min() - 1e-6,
                    tmax=test_times.max() + 1e-6,
                ).mean()
            )
    return dict(
        setting=name,
        protocol=protocol,
        n_windows=len(y),
        chance=float(chance),
        scores=scores,
        times={m: float(np.mean(t)) for m, t in times.items()},
        seconds=time.perf_counter() - t0,
    )


def _report(result):
    family, kwargs, role = SETTINGS[result["setting"]]
    scores, times = result["scores"], result["times"]
    subjects = sorted(scores["ceiling"])
    others = [s for s in subjects if s not in TUNING]
    refs = {r: scores.get(r) for r in REFERENCES}
    lines = [
        f"\n### Setting `{result['setting']}` ({role}; {family}("
        f"{', '.join(f'{k}={v}' for k, v in kwargs.items())}); {result['n_windows']} windows),"
        f" {result['protocol']} protocol ({result['seconds']:.0f} s)",
        "\nmean r over 15 targets",
        "\n| model | all 8 | tuning (sub-01, 02) | other 6 | "
        + " | ".join(f"vs {r} (± SE) | beats {r}" for r in REFERENCES)
        + " | fit (s) |",
        "|---|---|---|---|" + "---|---|" * len(REFERENCES) + "---|",
    ]
    for m, per in scores.items():
        mean = np.mean([per[s] for s in subjects])
        tune = np.mean([per[s] for s in subjects if s in TUNING])
        rest = np.mean([per[s] for s in others])
        cells = []
        for r, ref in refs.items():
            cells.append(_paired(per, ref, subjects, m, r))
            skip = ref is None or m in (r, "ceiling")
            cells.append(
                "-" if skip else f"{sum(per[s] > ref[s] for s in subjects)}/{len(subjects)}"
            )
        fit = f"{times[m]:.1f}" if m in times else "-"
        lines.append(
            f"| {m} | {mean:.3f} | {tune:.3f} | {rest:.3f} | {' | '.join(cells)} | {fit} |"
        )
    lines.append(
        f"| chance (logridge, unrelated pairs) | {result['chance']:.3f} |"
        + " |" * (4 + 2 * len(REFERENCES))
    )
    lines.append(
        "\nper subject: "
        + "; ".join(f"{m} " + " ".join(f"{scores[m][s]:.2f}" for s in subjects) for m in scores)
    )
    return "\n".join(lines)


def _paired(per, ref, subjects, m, name):
    """Mean paired difference from a reference model and its standard error."""
    if ref is None or m in (name, "ceiling"):
        return "-"
    diff = np.array([per[s] - ref[s] for s in subjects])
    return f"{diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.3f}"


def _summary(results, protocol):
    """Every model's paired difference from the Riemannian baseline, setting by setting."""
    results = [r for r in results if r["protocol"] == protocol]
    if not results or "riemann" not in results[0]["scores"]:
        return ""
    names = [m for m in results[0]["scores"] if m != "ceiling"]
    header = " | ".join(f"{r['setting']} ({SETTINGS[r['setting']][2]})" for r in results)
    lines = [
        f"\n## Summary, {protocol} protocol: mean r, and paired difference from riemann (± SE)",
        f"\n| model | {header} | worst difference |",
        "|---|" + "---|" * (len(results) + 1),
    ]
    for m in names:
        cells, diffs = [], []
        for r in results:
            per, ref = r["scores"][m], r["scores"]["riemann"]
            subjects = sorted(per)
            d = np.array([per[s] - ref[s] for s in subjects])
            mean = np.mean([per[s] for s in subjects])
            if m == "riemann":
                cells.append(f"{mean:.3f}")
            else:
                se = d.std(ddof=1) / np.sqrt(len(d))
                cells.append(f"{mean:.3f} ({d.mean():+.3f} ± {se:.3f})")
                diffs.append(d.mean())
        worst = f"{min(diffs):+.3f}" if diffs else "-"
        lines.append(f"| {m} | {' | '.join(cells)} | {worst} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--protocols", default="paper,loso")
    parser.add_argument("--models", default=",".join(models()))
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--jobs", type=int, default=1, help="processes (setting x protocol)")
    parser.add_argument("--json", help="also write every score to this JSON file")
    args = parser.parse_args(argv)
    model_names = args.models.split(",")
    unknown = set(model_names) - set(models())
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {sorted(models())}")
    settings = args.settings.split(",")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}; choose from {sorted(SETTINGS)}")
    protocols = args.protocols.split(",")
    start = time.perf_counter()
    tasks = [(s, p) for s in settings for p in protocols]
    # Each (setting, protocol) is reported, and the JSON rewritten, as soon as
    # it is done: a long run that is stopped keeps what it finished.
    results = []
    for result in Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(run_setting)(s, p, model_names, args.threads) for s, p in tasks
    ):
        results.append(result)
        print(_report(result), flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    order = {task: i for i, task in enumerate(tasks)}
    results.sort(key=lambda r: order[r["setting"], r["protocol"]])
    for protocol in protocols:
        print(_summary(results, protocol))
    print(
        f"\nTotal: {time.perf_counter() - start:.0f} s, {args.jobs} process(es) "
        f"x {args.threads} thread(s)"
    )


if __name__ == "__main__":
    main()
