"""Fixtures shared by the test modules; plain helpers are in ``_helpers.py``."""

import os

import pytest

from skeeg2bold import DroppedWindowsWarning, make_windows
from skeeg2bold.utils import limit_threads, passive_thread_waits, thread_budget

from _helpers import SMALL_SIM_WINDOW

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


@pytest.fixture(scope="session")
def small_sim():
    """Two simulated subjects, 60 s of EEG at 100 Hz, without artifacts.

    One simulation for the whole session: its recordings' arrays are read-only,
    so that no test changes what the next one sees. Build new ``Recording``
    objects from them to change anything.
    """
    from skeeg2bold.datasets import simulate_eeg_fmri

    sim = simulate_eeg_fmri(
        n_subjects=2, duration=60.0, sfreq=100.0, artifacts=False, random_state=0
    )
    for rec in sim.recordings:
        for array in (rec.eeg, rec.bold, rec.volume_times):
            array.setflags(write=False)
    return sim


@pytest.fixture(scope="session")
def small_sim_windows(small_sim):
    """``(X, y)`` of ``small_sim``: 4 s windows every 1 s at 50 Hz, the first three ROIs.

    ``X`` is a read-only ``EEGWindows``; ``y`` is read-only too.
    """
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows(small_sim.recordings, window=SMALL_SIM_WINDOW, step=1.0, sfreq=50.0)
    y = data.y[:, :3]
    y.setflags(write=False)
    return data.X, y
