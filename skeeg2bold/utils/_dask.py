"""A Dask worker plugin pinning torch and BLAS threads (needs ``distributed``)."""

from distributed import WorkerPlugin
from threadpoolctl import threadpool_limits

from ._budget import thread_budget

__all__ = ["PinThreads"]


class PinThreads(WorkerPlugin):
    """Set torch's and the BLAS/OpenMP thread counts when a worker starts.

    Made by :func:`~skeeg2bold.utils.pin_dask_threads`.

    Parameters
    ----------
    n_threads : int, default=None
        Threads per task on every worker.
    per_host : dict, default=None
        Host -> threads per task, used when ``n_threads`` is None. A worker
        on a host not listed (one that joined later) divides its CPUs by its
        own thread count.
    """

    name = "skeeg2bold-pin-threads"

    def __init__(self, n_threads=None, per_host=None):
        self.n_threads = n_threads
        self.per_host = per_host or {}

    def setup(self, worker):
        import torch

        n_threads = self.n_threads or self.per_host.get(
            worker.ip, thread_budget(worker.state.nthreads)
        )
        self._previous = torch.get_num_threads()
        # Both settings are process-wide; tasks run in the worker's executor
        # threads, which take torch's count over on their first torch operation.
        torch.set_num_threads(n_threads)
        self._limits = threadpool_limits(limits=n_threads)

    def teardown(self, worker):
        import torch

        self._limits.restore_original_limits()
        torch.set_num_threads(self._previous)

    @staticmethod
    def current(dask_worker):
        """Torch's thread count on a worker (``client.run`` passes ``dask_worker``)."""
        import torch

        return torch.get_num_threads()
