"""Thread budgets for parallel fits: concurrent fits must not oversubscribe cores.

Each fit of a torch model (and each BLAS call of a ridge) starts as many
threads as the machine has cores. Two such fits side by side on two cores
run four busy threads that evict each other's caches and wait at every
OpenMP barrier, so the parallel search ends up slower than a serial one.

What already pins threads, and what does not:

- joblib's default ``loky`` backend starts worker processes with
  ``OMP_NUM_THREADS`` (and the MKL/OpenBLAS equivalents) set to
  ``cpu_count() // n_jobs``; torch reads that variable when a worker imports
  it, so ``GridSearchCV(n_jobs=k)`` is already pinned and needs nothing here.
- joblib's ``threading`` backend and a Dask cluster with
  ``processes=False`` run fits as threads of one process. Environment
  variables are read once per process, so only a process-wide
  ``torch.set_num_threads`` (read by each new torch thread) and threadpoolctl
  limits help: :func:`limit_threads`.
- Dask worker processes get ``OMP_NUM_THREADS=1`` from their nanny, which
  leaves cores idle when a worker has fewer threads than cores;
  :func:`pin_dask_threads` gives every worker its share instead.

A grid search runs on a Dask cluster through joblib's Dask backend::

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")  # or Client(LocalCluster(...))
    pin_dask_threads(client)
    with joblib.parallel_config(backend="dask"):
        GridSearchCV(model, grid, cv=cv, n_jobs=-1).fit(X, y)

and on Ray through Ray's joblib backend, whose worker processes start with
``OMP_NUM_THREADS`` set to the task's CPUs (1 by default), so torch is
pinned there already::

    from ray.util.joblib import register_ray
    register_ray()
    with joblib.parallel_config(backend="ray"):
        GridSearchCV(model, grid, cv=cv, n_jobs=-1).fit(X, y)

Fits of torch models must run in separate processes to be reproducible:
torch's random generator (weight initialisation, batch order, dropout) is
process-wide, so two fits running as threads of one process draw from it in
turn and neither gets the numbers its ``random_state`` promises. Threads are
fine for the classical baselines.
"""

import contextlib
import os
import sys
import warnings
from collections import Counter

from joblib import cpu_count
from threadpoolctl import threadpool_limits

from .._validation import check_int
from ._budget import thread_budget

__all__ = ["limit_threads", "passive_thread_waits", "pin_dask_threads", "thread_budget"]


def passive_thread_waits():
    """Make OpenMP threads sleep, not spin, while they wait for work.

    torch's OpenMP threads spin at every barrier; on a machine whose cores
    are busy (parallel fits, pytest-xdist, a laptop) that spinning made a fit
    8-15x slower than one thread in our measurements, while passive waiting
    keeps the multi-thread speed-up on an idle machine. It sets
    ``OMP_WAIT_POLICY=PASSIVE`` for the process unless the user set it, and
    only takes effect before torch is imported (a warning says so otherwise).
    The ``skeeg2bold`` command calls it; scripts opt in by calling it first.

    Returns
    -------
    policy : str
        The ``OMP_WAIT_POLICY`` in force.
    """
    policy = os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "torch" in sys.modules and policy == "PASSIVE":
        warnings.warn(
            "passive_thread_waits() was called after torch was imported; OpenMP "
            "reads OMP_WAIT_POLICY once, so call it before importing torch.",
            RuntimeWarning,
            stacklevel=2,
        )
    return policy


@contextlib.contextmanager
def limit_threads(n_threads):
    """Pin torch's intra-op threads and the BLAS/OpenMP pools inside a block.

    Use it around a search that runs fits as threads (joblib's ``threading``
    backend, a Dask cluster with ``processes=False``); process-based backends
    are pinned by joblib already (see the module notes). Torch's setting is
    process-wide: threads started inside the block (joblib's worker threads)
    take it over when they first run a torch operation. The previous settings
    are restored on exit.

    Parameters
    ----------
    n_threads : int
        Threads per fit, e.g. ``thread_budget(n_jobs)``.

    Examples
    --------
    >>> import torch
    >>> from skeeg2bold.utils import limit_threads
    >>> with limit_threads(1):
    ...     torch.get_num_threads()
    1
    """
    n_threads = check_int(n_threads, "n_threads", min_value=1)
    import torch

    previous = torch.get_num_threads()
    with threadpool_limits(limits=int(n_threads)):
        torch.set_num_threads(int(n_threads))
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def pin_dask_threads(client, n_threads=None):
    """Pin torch and BLAS threads on every worker of a Dask cluster.

    Registers a worker plugin, so workers that join later are pinned too.
    With ``n_threads=None`` a worker's share is its host's CPUs divided by
    the Dask threads of all workers on that host, so the concurrent tasks of
    all workers fill the cores without oversubscribing them.

    Parameters
    ----------
    client : distributed.Client
    n_threads : int, default=None
        Threads per task, the same on every worker; per host as above if None.

    Returns
    -------
    n_threads : dict
        Worker address -> torch threads per task, as set on each worker now.

    Examples
    --------
    >>> import joblib
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> pin_dask_threads(client)  # doctest: +SKIP
    >>> with joblib.parallel_config(backend="dask"):  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    from ._dask import PinThreads

    if n_threads is None:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        threads_on_host = Counter()
        for info in workers.values():
            threads_on_host[info["host"]] += info["nthreads"]
        cpus = client.run(cpu_count)
        per_host = {}
        for address, info in workers.items():
            budget = thread_budget(threads_on_host[info["host"]], n_cpus=cpus[address])
            per_host[info["host"]] = min(budget, per_host.get(info["host"], budget))
        plugin = PinThreads(per_host=per_host)
    else:
        plugin = PinThreads(n_threads=thread_budget(1, n_cpus=n_threads))
    client.register_plugin(plugin, name=PinThreads.name)
    return client.run(PinThreads.current)
