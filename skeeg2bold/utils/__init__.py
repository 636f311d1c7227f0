"""Utilities: thread budgets for parallel and distributed fits."""

from ._parallel import limit_threads, passive_thread_waits, pin_dask_threads, thread_budget

__all__ = ["limit_threads", "passive_thread_waits", "pin_dask_threads", "thread_budget"]
