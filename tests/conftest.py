import os

import pytest

from skeeg2bold.utils import limit_threads, passive_thread_waits, thread_budget

# Before any test imports torch: xdist workers share the cores.
passive_thread_waits()


@pytest.fixture(autouse=True, scope="session")
def torch_threads_per_test_worker():
    # pytest-xdist runs one test process per core on CI; torch's default of one
    # thread per core in each oversubscribes the cores, and torch is
    # pathologically slow when oversubscribed (see skeeg2bold.utils).
    n_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    with limit_threads(thread_budget(n_workers)):
        yield
