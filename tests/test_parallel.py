"""Reproducibility and thread pinning under joblib parallelism."""

import os

import numpy as np
import pytest
import torch
from joblib import parallel_config
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GridSearchCV, cross_validate
from threadpoolctl import threadpool_info

from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.metrics import mean_r_scorer
from skeeg2bold.model_selection import TimeBlockedSplit
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor
from skeeg2bold.utils import limit_threads, thread_budget

from _helpers import SMALL_SIM_WINDOW as WINDOW


class ThreadProbe(RegressorMixin, BaseEstimator):
    """Records the thread counts torch and the BLAS see inside ``fit``."""

    def fit(self, X, y):
        self.torch_threads_ = torch.get_num_threads()
        self.blas_threads_ = max(
            (pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"),
            default=None,
        )
        self.mean_ = np.mean(y, axis=0)
        return self

    def predict(self, X):
        return np.tile(self.mean_, (len(X), 1))


def small_regressor(**params):
    return EEG2BoldRegressor(
        CompactNet,
        module__n_branches=3,
        module__n_lags=2,
        max_epochs=2,
        batch_size=32,
        train_split=None,
        random_state=0,
        **params,
    )


# -- thread budgets ------------------------------------------------------------
def test_thread_budget_divides_cpus_and_checks_its_arguments():
    assert thread_budget(2, n_cpus=16) == 8
    assert thread_budget(3, n_cpus=2) == 1
    assert thread_budget(-1, n_cpus=8) == 1
    assert thread_budget(1) >= 1
    with pytest.raises(ValueError, match="n_workers"):
        thread_budget(0, n_cpus=4)
    with pytest.raises(TypeError, match="n_cpus"):
        thread_budget(2, n_cpus=2.5)


def test_limit_threads_pins_torch_and_blas_then_restores():
    before = torch.get_num_threads()
    with limit_threads(1):
        assert torch.get_num_threads() == 1
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        assert all(n == 1 for n in blas)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_threads"), limit_threads(0):
        pass
    with pytest.raises(TypeError, match="n_threads"), limit_threads("2"):
        pass


def test_loky_workers_get_their_share_of_threads(small_sim_windows):
    X, y = small_sim_windows
    X2 = np.asarray(X)[:, :2, :10].reshape(len(X), -1)
    # joblib's loky backend sets OMP_NUM_THREADS etc. to cpu_count // n_jobs in
    # its workers (unless the user set them), and torch reads it at import.
    expected = int(os.environ.get("OMP_NUM_THREADS", thread_budget(2)))
    result = cross_validate(ThreadProbe(), X2, y, cv=2, n_jobs=2, return_estimator=True)
    assert [e.torch_threads_ for e in result["estimator"]] == [expected, expected]


def test_limit_threads_pins_fits_run_as_threads(small_sim_windows):
    X, y = small_sim_windows
    X2 = np.asarray(X)[:, :2, :10].reshape(len(X), -1)
    budget = thread_budget(2)
    with parallel_config(backend="threading"), limit_threads(budget):
        result = cross_validate(ThreadProbe(), X2, y, cv=2, n_jobs=2, return_estimator=True)
    for probe in result["estimator"]:
        assert probe.torch_threads_ == budget
        assert probe.blas_threads_ in (None, budget)


# -- reproducibility ---------------------------------------------------------
def test_grid_search_of_the_network_is_identical_with_one_or_two_jobs(small_sim_windows):
    X, y = small_sim_windows
    cv = TimeBlockedSplit(2, window=WINDOW)
    grid = {"module__n_lags": [2, 4]}
    searches = [
        GridSearchCV(small_regressor(), grid, cv=cv, scoring=mean_r_scorer, n_jobs=n_jobs).fit(X, y)
        for n_jobs in (1, 2)
    ]
    serial, parallel = searches
    assert serial.best_params_ == parallel.best_params_
    # A worker runs torch with fewer threads than the main process, which can
    # reorder float32 sums; anything beyond rounding would be a seeding bug.
    np.testing.assert_allclose(
        serial.cv_results_["split0_test_score"],
        parallel.cv_results_["split0_test_score"],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        serial.cv_results_["split1_test_score"],
        parallel.cv_results_["split1_test_score"],
        atol=1e-5,
    )
    np.testing.assert_allclose(serial.predict(X), parallel.predict(X), rtol=1e-4, atol=1e-6)


def test_cross_validate_of_the_ridge_baseline_is_identical_with_one_or_two_jobs(small_sim_windows):
    X, y = small_sim_windows
    cv = TimeBlockedSplit(2, window=WINDOW)
    model = make_ridge_baseline(bands={"alpha": (8, 13), "beta": (13, 24)})
    results = [
        cross_validate(
            model, X, y, cv=cv, scoring=mean_r_scorer, n_jobs=n_jobs, return_estimator=True
        )
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(results[0]["test_score"], results[1]["test_score"])
    for a, b in zip(results[0]["estimator"], results[1]["estimator"]):
        np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-10)


def test_import_sets_no_process_wide_variable_and_passive_waits_is_opt_in():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}

    def run(code):
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        ).stdout.split()

    assert run("import os, skeeg2bold.nn; print(os.environ.get('OMP_WAIT_POLICY'))") == ["None"]
    assert (
        run(
            "import os; from skeeg2bold.utils import passive_thread_waits; "
            "print(passive_thread_waits(), os.environ['OMP_WAIT_POLICY'])"
        )
        == ["PASSIVE"] * 2
    )
