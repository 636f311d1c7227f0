"""Two network fits side by side on 2 cores, with and without thread pinning.

Without pinning each fit starts as many torch threads as there are cores, so
two parallel fits run four busy threads on two cores; pinned, each fit gets
``thread_budget(2) = 1`` thread. Timed for worker processes (joblib's loky
backend, pinned by joblib itself unless told otherwise) and for threads of
one process (joblib's threading backend, pinned with
:func:`skeeg2bold.utils.limit_threads`); the peer is the same two fits run
one after the other. The benchmark confines itself to two CPUs when the
machine has more. The load average (other processes competing for the same
cores) is printed with the numbers.

Run: ``python benchmarks/bench_parallel.py``
"""

import contextlib
import os
import time
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed, parallel_config
from sklearn.base import clone

from skeeg2bold import make_windows
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.nn import EEG2BoldNet, EEG2BoldRegressor
from skeeg2bold.utils import limit_threads, thread_budget

N_CORES = 2


def _fit(model, X, y, n_threads=None):
    # Worker processes inherit no torch setting; n_threads=None keeps the
    # worker's own (what the environment gave it).
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    t0 = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - t0, torch.get_num_threads()


def _warm_up(_):
    return torch.get_num_threads()


def main(n_repeats=2):
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > N_CORES:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:N_CORES])
    sim = simulate_eeg_fmri(
        n_subjects=2, duration=120.0, sfreq=100.0, artifacts=False, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_windows(sim.recordings, window=10.0, step=2.0)
    X, y = data.X, data.y
    model = EEG2BoldRegressor(
        EEG2BoldNet, max_epochs=1, batch_size=32, train_split=None, random_state=0
    )
    budget = thread_budget(2, n_cpus=N_CORES)

    def serial(n_threads):
        torch.set_num_threads(n_threads)
        t0 = time.perf_counter()
        for _ in range(2):
            clone(model).fit(X, y)
        return time.perf_counter() - t0, f"{n_threads} each"

    def parallel(backend, pinned):
        if backend == "loky":
            # joblib's default pins workers to cpu_count // n_jobs threads;
            # inner_max_num_threads=N_CORES is what an unpinned worker gets.
            config = parallel_config(
                backend="loky", inner_max_num_threads=budget if pinned else N_CORES
            )
            context = contextlib.nullcontext()
        else:
            config = parallel_config(backend="threading")
            torch.set_num_threads(N_CORES)
            context = limit_threads(budget) if pinned else contextlib.nullcontext()
        with config, context:
            # Start the workers (and import torch there) before timing.
            Parallel(n_jobs=2)(delayed(_warm_up)(i) for i in range(2))
            t0 = time.perf_counter()
            results = Parallel(n_jobs=2)(delayed(_fit)(clone(model), X, y) for _ in range(2))
            elapsed = time.perf_counter() - t0
        return elapsed, "/".join(str(n) for _, n in results)

    cases = [
        ("one after the other, 2 threads", lambda: serial(N_CORES)),
        ("one after the other, 1 thread", lambda: serial(1)),
        ("2 processes, unpinned", lambda: parallel("loky", pinned=False)),
        ("2 processes, pinned", lambda: parallel("loky", pinned=True)),
        ("2 threads, unpinned", lambda: parallel("threading", pinned=False)),
        ("2 threads, pinned (limit_threads)", lambda: parallel("threading", pinned=True)),
    ]
    print(
        f"2 fits of EEG2BoldNet (1 epoch, {len(X)} windows x {X.shape[1]} ch x "
        f"{X.shape[2]} samples) on {N_CORES} cores; load average before: "
        f"{os.getloadavg()[0]:.1f}; best of {n_repeats}"
    )
    print(f"{'':36s} {'seconds':>8s}  {'torch threads per fit':>22s}")
    timings = {}
    for name, run in cases:
        runs = [run() for _ in range(n_repeats)]
        best = min(runs, key=lambda r: r[0])
        timings[name] = best[0]
        print(f"{name:36s} {best[0]:8.2f}  {best[1]:>22s}")
    for kind in ("processes", "threads"):
        ratio = (
            timings[f"2 {kind}, unpinned"]
            / timings[next(k for k in timings if k.startswith(f"2 {kind}, pinned"))]
        )
        print(f"{kind}: unpinned / pinned = {ratio:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return {name: float(np.round(t, 3)) for name, t in timings.items()}


if __name__ == "__main__":
    main()
