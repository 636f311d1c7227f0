"""Grid search on a Dask cluster gives the local run's results, threads pinned."""

import logging

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skeeg2bold.metrics import mean_r_scorer
from skeeg2bold.model_selection import TimeBlockedSplit
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor
from skeeg2bold.utils import pin_dask_threads, thread_budget

from _helpers import SMALL_SIM_WINDOW as WINDOW

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    # Worker processes, not threads: torch's random generator is process-wide,
    # so fits sharing a process would not be reproducible (see skeeg2bold.utils).
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_pin_dask_threads_gives_each_worker_its_share(client):
    n_cpus = min(client.run(joblib.cpu_count).values())
    assert set(pin_dask_threads(client).values()) == {thread_budget(2, n_cpus=n_cpus)}
    assert set(pin_dask_threads(client, n_threads=1).values()) == {1}
    with pytest.raises(ValueError, match="n_cpus|n_threads"):
        pin_dask_threads(client, n_threads=0)


def test_grid_search_through_dask_matches_the_local_run(client, small_sim_windows):
    X, y = small_sim_windows
    model = EEG2BoldRegressor(
        CompactNet,
        module__n_branches=3,
        max_epochs=2,
        batch_size=32,
        train_split=None,
        random_state=0,
    )
    grid = {"module__n_lags": [2, 4]}
    cv = TimeBlockedSplit(2, window=WINDOW)
    local = GridSearchCV(model, grid, cv=cv, scoring=mean_r_scorer).fit(X, y)

    pin_dask_threads(client)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
        remote = GridSearchCV(model, grid, cv=cv, scoring=mean_r_scorer, n_jobs=-1).fit(X, y)
    # The four fit-and-score tasks ran on the cluster's two workers.
    assert len(tasks.data) >= 4
    assert remote.best_params_ == local.best_params_
    # Workers run torch with fewer threads than this process, which may
    # reorder float32 sums: equal up to rounding.
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key], atol=1e-5)
    np.testing.assert_allclose(remote.predict(X), local.predict(X), rtol=1e-4, atol=1e-6)
