"""How many threads each of several concurrent fits may use."""

from joblib import cpu_count

from .._validation import check_int

__all__ = ["thread_budget"]


def thread_budget(n_workers, n_cpus=None):
    """Threads each of ``n_workers`` concurrent fits may use.

    Parameters
    ----------
    n_workers : int
        Fits running at the same time (``n_jobs``; ``-1`` means one per CPU).
    n_cpus : int, default=None
        CPUs available; joblib's ``cpu_count()`` (cgroup- and
        affinity-aware) if None.

    Returns
    -------
    n_threads : int
        ``max(1, n_cpus // n_workers)``.

    Examples
    --------
    >>> from skeeg2bold.utils import thread_budget
    >>> thread_budget(2, n_cpus=16)
    8
    """
    n_cpus = cpu_count() if n_cpus is None else n_cpus
    n_cpus = check_int(n_cpus, "n_cpus", min_value=1)
    n_workers = check_int(n_workers, "n_workers", min_value=-1)
    if n_workers == 0:
        raise ValueError("n_workers must be >= 1 (or -1: one per CPU), got 0.")
    if n_workers == -1:
        n_workers = n_cpus
    return max(1, n_cpus // n_workers)
