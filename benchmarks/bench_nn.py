"""Deep model: training speed, inference latency, and accuracy under the paper's protocol.

Default sizes: 30 channels, 10 s windows at 100 Hz (``make_windows(...,
sfreq=100)``; the simulator's bands stop at 45 Hz, so 100 Hz loses nothing),
15 targets (14 differential ROIs + common mode).

1. Training throughput of :class:`~skeeg2bold.nn.EEG2BoldNet` and
   :class:`~skeeg2bold.nn.CompactNet`: windows per second of
   forward + backward + AdamW step on batches of 64, on 1 and 2 threads,
   for the former front end (temporal filters learned, applied to every
   branch at the full rate) and the current one (fixed band-pass filters
   applied once per recording, only the spatial filters learn).
2. Single-window inference latency on one thread (median of 200 calls under
   ``torch.inference_mode``): the bare network, and ``predict`` end to end.
   Target: under 5 ms for a 10 s window.
3. One paper-protocol fit, before and after, side by side (``--speed-repeats``
   alternating rounds on the first target subject): wall time of each
   network's fit under its former defaults and its current ones, the ratio,
   and each network's fit time over the log-envelope ridge's, measured in the
   same rounds. The former CompactNet is ``module__learn_temporal=True``, the
   former EEG2BoldNet ``module__n_branches=15, module__init_spatial="random",
   module__init_bands=True, module__envelope_sfreq=None,
   module__skip_lags=0``. ``--before-rev REV`` (a git revision of this
   repository, e.g. ``main``) or ``--before-checkout PATH`` (a directory
   holding an earlier ``skeeg2bold`` package) also times that code's default
   fits, in a subprocess run in every round beside the current ones, so that
   the ratios compare code measured under the same load.
4. The paper's protocol on the default simulated data
   (``simulate_eeg_fmri(random_state=--sim-seed)``: 8 subjects x 285 s): for the target
   subject, train on the 7 others plus its first 68.7 s, test on its final
   150 s (:class:`~skeeg2bold.model_selection.PaperProtocolSplit`). Mean
   Pearson r over the 15 targets for the paper's network and the compact
   network at their defaults, an average of ``--members`` compact networks
   (:class:`~skeeg2bold.ensemble.SeedEnsembleRegressor`), both classical
   baselines at their defaults and on log envelopes, the compact network's
   chance level (trained on temporally unrelated pairs), and the
   simulator's noise ceiling on the same test volumes; with the wall time
   of each fit on ``--threads`` threads.

The test part is 150 s of slow BOLD (about 70 windows, far fewer
independent samples), so one target's r varies by 0.1-0.2 between runs
and subjects, and the 15 targets are not independent: compare models on
several target subjects (``--subjects sub-01,sub-04,...``) before drawing
conclusions. On a shared
machine, run with ``--threads 1``: oversubscribed threads slow torch down
many times.

Run: ``python benchmarks/bench_nn.py [--subjects sub-08] [--threads 2] [--chance-repeats 2]
[--members 3] [--speed-repeats 2] [--before-rev main | --before-checkout PATH] [--sim-seed 0]
[--skip-former]``
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from skeeg2bold import make_windows
from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline
from skeeg2bold.datasets import ceiling_for, simulate_eeg_fmri
from skeeg2bold.ensemble import SeedEnsembleRegressor
from skeeg2bold.metrics import pearson_r
from skeeg2bold.model_selection import PaperProtocolSplit
from skeeg2bold.model_selection._chance import chance_level
from skeeg2bold.nn import (
    CompactNet,
    CorrelationCLIPLoss,
    EEG2BoldNet,
    EEG2BoldRegressor,
)
from skeeg2bold.targets import CommonModeSplitter

SFREQ = 100.0
N_CHANS, N_TIMES, N_OUTPUTS = 30, 1000, 15
#: Module arguments that give back each network's former defaults (before the
#: fixed, cached band-pass front end).
BEFORE = {
    CompactNet: dict(learn_temporal=True),
    EEG2BoldNet: dict(
        n_branches=15,
        init_spatial="random",
        init_bands=True,
        envelope_sfreq=None,
        learn_temporal=True,
        skip_lags=0,
    ),
}


def training_throughput(module_cls, n_threads, module_kwargs=None, batch_size=64, n_steps=8):
    torch.set_num_threads(n_threads)
    torch.manual_seed(0)
    net = module_cls(N_CHANS, N_TIMES, N_OUTPUTS, SFREQ, **(module_kwargs or {})).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    criterion = CorrelationCLIPLoss()
    x, y = torch.randn(batch_size, N_CHANS, N_TIMES), torch.randn(batch_size, N_OUTPUTS)
    if net.feature_extractor.band_filters is not None:
        # What the regressor feeds it: band-passed inputs cut from cached recordings.
        x = [band.contiguous() for band in net.feature_extractor.band_inputs(x)]

    def step():
        optimizer.zero_grad()
        criterion(net(x, bold=y), y).backward()
        optimizer.step()

    step()  # warm-up (allocations, kernel selection)
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return n_steps * batch_size / (time.perf_counter() - start)


def latency_ms(fn, n_calls=200):
    for _ in range(10):
        fn()
    times = []
    for _ in range(n_calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def speed():
    print("## Training throughput (batches of 64, default sizes)")
    for module_cls in (EEG2BoldNet, CompactNet):
        for n_threads in (1, 2):
            rates = {
                when: training_throughput(module_cls, n_threads, kwargs)
                for when, kwargs in (("before", BEFORE[module_cls]), ("now", {}))
            }
            print(
                f"- {module_cls.__name__}, {n_threads} thread(s): before {rates['before']:.0f}, "
                f"now {rates['now']:.0f} windows/s ({rates['now'] / rates['before']:.1f}x; "
                f"{1120 / rates['now']:.1f} s per epoch of the 1120 simulated windows)"
            )
    print("\n## Single-window inference latency (1 thread, 10 s window at 100 Hz)")
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, N_CHANS, N_TIMES)), rng.standard_normal((64, N_OUTPUTS))
    for module_cls in (EEG2BoldNet, CompactNet):
        reg = EEG2BoldRegressor(
            module_cls, sfreq=SFREQ, max_epochs=1, train_split=None, random_state=0
        ).fit(X, y)
        net = reg.module_.eval()
        window = torch.as_tensor(X[:1], dtype=torch.float32)
        with torch.inference_mode():
            bare = latency_ms(lambda: net(window))  # noqa: B023 - called at once
        full = latency_ms(lambda: reg.predict(X[:1]))  # noqa: B023 - called at once
        print(f"- {module_cls.__name__}: network {bare:.2f} ms, predict() end to end {full:.2f} ms")


def _paper_data(seed):
    sim = simulate_eeg_fmri(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_windows(sim.recordings, window=10.0, sfreq=SFREQ, dtype="float32")
    return sim, data, CommonModeSplitter().fit_transform(data.y)


def _fit_and_score(model, data, y, train, test):
    """Wall and CPU seconds of one fit, and the mean r on the test windows."""
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(data.X[train], y[train])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, float(pearson_r(y[test], model.predict(data.X[test])).mean())


def _speed_candidates(before):
    """Fresh estimators: the networks' former (``before``) or current defaults, and the ridge."""

    def network(module_cls):
        kwargs = {f"module__{k}": v for k, v in BEFORE[module_cls].items()} if before else {}
        return EEG2BoldRegressor(module_cls, random_state=0, **kwargs)

    return {
        "CompactNet": lambda: network(CompactNet),
        "EEG2BoldNet": lambda: network(EEG2BoldNet),
        "ridge baseline, log envelopes": lambda: make_ridge_baseline(log=True),
    }


def _warm_up():
    """One tiny fit: torch imports parts of itself on the first optimizer step of a
    process (seconds), which would otherwise be charged to the first timed fit."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 4, 200)), rng.standard_normal((16, 2))
    EEG2BoldRegressor(
        CompactNet, sfreq=SFREQ, max_epochs=1, train_split=None, module__n_branches=2
    ).fit(X, y)


def _before_worker(subject, seed, n_threads):
    """Run inside ``--before-checkout``: that code's default fits, as JSON on stdout."""
    torch.set_num_threads(n_threads)
    _, data, y = _paper_data(seed)
    _warm_up()
    train, test = next(PaperProtocolSplit(subjects=[subject]).split(data.X, y, data.groups))
    out = {}
    with threadpool_limits(n_threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("CompactNet", "EEG2BoldNet"):
            module_cls = CompactNet if name == "CompactNet" else EEG2BoldNet
            out[name] = _fit_and_score(
                EEG2BoldRegressor(module_cls, random_state=0), data, y, train, test
            )
    print(json.dumps(out))


def _checkout(rev, directory):
    """The ``skeeg2bold`` package at git revision ``rev``, extracted into ``directory``."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", rev, "skeeg2bold"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
    return directory


def _checkout_fits(checkout, subject, seed, n_threads):
    env = dict(os.environ, PYTHONPATH=str(checkout))
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--before-worker",
            subject,
            "--sim-seed",
            str(seed),
            "--threads",
            str(n_threads),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def fit_speed(subject, n_threads, repeats, before_checkout, seed, former=True):
    torch.set_num_threads(n_threads)
    _, data, y = _paper_data(seed)
    train, test = next(PaperProtocolSplit(subjects=[subject]).split(data.X, y, data.groups))
    print(
        f"\n## One paper-protocol fit, before and now (target {subject}, {n_threads} "
        f"thread(s), {repeats} alternating round(s); the first fit of the current networks "
        "also fills the band-pass cache)"
    )
    before, now = _speed_candidates(True), _speed_candidates(False)
    ridge = "ridge baseline, log envelopes"
    runs = {}
    _warm_up()
    with threadpool_limits(n_threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            if before_checkout:
                for name, values in _checkout_fits(
                    before_checkout, subject, seed, n_threads
                ).items():
                    runs.setdefault((name, "checkout"), []).append(values)
            for name in ("CompactNet", "EEG2BoldNet"):
                if former:
                    runs.setdefault((name, "former defaults"), []).append(
                        _fit_and_score(before[name](), data, y, train, test)
                    )
                runs.setdefault((name, "now"), []).append(
                    _fit_and_score(now[name](), data, y, train, test)
                )
            runs.setdefault((ridge, "now"), []).append(
                _fit_and_score(now[ridge](), data, y, train, test)
            )
    ridge_time = np.median([v[0] for v in runs[(ridge, "now")]])
    print(
        "\nWall time of each round; CPU time (all threads) in brackets: on a shared machine "
        "the ratios, measured side by side, are what carries over. 'checkout' is the code "
        "given by --before-rev/--before-checkout, its fits run in a subprocess each round.\n"
    )
    print(
        "| model | code | fit time (s), each round | median (s) | mean r | before / now "
        "| fit / ridge fit |"
    )
    print("|---|---|---|---|---|---|---|")
    for (name, when), values in sorted(runs.items(), key=lambda item: item[0][0]):
        median = float(np.median([v[0] for v in values]))
        now_median = float(np.median([v[0] for v in runs[(name, "now")]]))
        ratio = f"{median / now_median:.1f}x" if when != "now" else "-"
        each = " ".join(f"{wall:.1f} ({cpu:.0f})" for wall, cpu, _ in values)
        print(
            f"| {name} | {when} | {each} | {median:.1f} | {values[0][2]:.3f} | {ratio} | "
            f"{median / ridge_time:.1f}x |"
        )


def protocol(subjects, n_threads, chance_repeats, n_members, seed=0):
    torch.set_num_threads(n_threads)
    start = time.perf_counter()
    sim, data, y = _paper_data(seed)
    transform = np.column_stack([np.eye(14) - 1 / 14, np.full(14, 1 / 14)])
    print(
        f"\n## Paper protocol on simulated data, seed {seed} ({len(data.y)} windows, "
        f"{n_threads} thread(s); data ready in {time.perf_counter() - start:.0f} s)"
    )
    models = {
        "EEG2BoldRegressor (EEG2BoldNet)": EEG2BoldRegressor(random_state=0),
        "EEG2BoldRegressor (CompactNet)": EEG2BoldRegressor(CompactNet, random_state=0),
        f"SeedEnsembleRegressor ({n_members} x CompactNet)": SeedEnsembleRegressor(
            EEG2BoldRegressor(CompactNet), n_members=n_members, random_state=0
        ),
        "ridge baseline (lagged envelopes)": make_ridge_baseline(),
        "HRF baseline": make_hrf_baseline(),
        "ridge baseline, log envelopes": make_ridge_baseline(log=True),
        "HRF baseline, log envelopes": make_hrf_baseline(log=True),
    }
    scores = {name: [] for name in models}
    times = {name: [] for name in models}
    epochs = {name: [] for name in models}
    chance, ceiling = None, []
    split = PaperProtocolSplit(subjects=subjects)
    # RidgeCV's largest candidate penalties warn about conditioning; irrelevant here.
    warnings.filterwarnings("ignore", message="An ill-conditioned matrix")
    with threadpool_limits(n_threads):
        for (train, test), subject in zip(split.split(data.X, y, data.groups), subjects):
            for name, model in models.items():
                t0 = time.perf_counter()
                model.fit(data.X[train], y[train])
                times[name].append(time.perf_counter() - t0)
                scores[name].append(pearson_r(y[test], model.predict(data.X[test])))
                members = getattr(model, "estimators_", [model])
                if hasattr(members[0], "history"):
                    epochs[name].append(np.mean([len(m.history) for m in members]))
            ceiling.append(
                ceiling_for(
                    sim,
                    transform,
                    subjects=[subject],
                    tmin=data.bold_times[test].min() - 1e-6,
                    tmax=data.bold_times[test].max() + 1e-6,
                )
            )
        if chance_repeats:
            # Every subject's final 30 % is the test block (chance_level's split).
            t0 = time.perf_counter()
            chance = chance_level(
                EEG2BoldRegressor(CompactNet, random_state=0),
                data.X,
                y,
                n_repeats=chance_repeats,
                random_state=0,
            ).scores
            chance_time = (time.perf_counter() - t0) / chance_repeats
    print(
        f"\nTarget subject(s): {', '.join(subjects)}. Mean r over 15 targets "
        "(common mode alone in brackets); fit time per subject.\n"
    )
    print("| model | mean r | common mode r | fit time (s) | epochs | per subject |")
    print("|---|---|---|---|---|---|")
    for name in models:
        r = np.mean(scores[name], axis=0)
        n_ep = f"{np.mean(epochs[name]):.0f}" if epochs[name] else "-"
        each = " ".join(f"{np.mean(v):.3f}" for v in scores[name])
        print(
            f"| {name} | {r.mean():.3f} | {r[-1]:.3f} | {np.mean(times[name]):.0f} | {n_ep} "
            f"| {each} |"
        )
    if chance is not None:
        r = chance.mean(axis=0)
        print(
            f"| chance level: CompactNet on unrelated pairs, {chance_repeats} repeats "
            f"(per repeat: {', '.join(f'{v:.3f}' for v in chance.mean(axis=1))}) | "
            f"{r.mean():.3f} | {r[-1]:.3f} | {chance_time:.0f} | - | - |"
        )
    r = np.mean(ceiling, axis=0)
    each = " ".join(f"{np.mean(v):.3f}" for v in ceiling)
    print(
        f"| simulator noise ceiling (same test volumes) | {r.mean():.3f} | {r[-1]:.3f} | - | - "
        f"| {each} |"
    )
    print(f"\nTotal protocol time: {time.perf_counter() - start:.0f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--subjects",
        default="sub-08",
        help="comma-separated target subjects (the paper: the last one)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chance-repeats", type=int, default=2)
    parser.add_argument("--members", type=int, default=3, help="seeds of the CompactNet ensemble")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-protocol", action="store_true")
    parser.add_argument(
        "--speed-repeats",
        type=int,
        default=2,
        help="alternating rounds of the before/now fit timing (0: skip)",
    )
    parser.add_argument(
        "--before-checkout",
        default=None,
        help="also time the default fits of the skeeg2bold package in this "
        "directory, in a subprocess each round",
    )
    parser.add_argument(
        "--before-rev",
        default=None,
        help="as --before-checkout, for the package at this git revision",
    )
    parser.add_argument(
        "--skip-former",
        action="store_true",
        help="do not time the networks under their former module defaults",
    )
    parser.add_argument("--sim-seed", type=int, default=0, help="simulator random_state")
    parser.add_argument("--before-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.before_worker:
        return _before_worker(args.before_worker, args.sim_seed, args.threads)
    subjects = args.subjects.split(",")
    if not args.skip_speed:
        speed()
        if args.speed_repeats:
            with tempfile.TemporaryDirectory() as tmp:
                checkout = (
                    _checkout(args.before_rev, tmp) if args.before_rev else args.before_checkout
                )
                fit_speed(
                    subjects[0],
                    args.threads,
                    args.speed_repeats,
                    checkout,
                    args.sim_seed,
                    former=not args.skip_former,
                )
    if not args.skip_protocol:
        protocol(subjects, args.threads, args.chance_repeats, args.members, args.sim_seed)


if __name__ == "__main__":
    main()
