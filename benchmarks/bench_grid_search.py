"""GridSearchCV over 8 network configurations and 4 baselines, paper protocol, one target.

Runs ``examples/plot_grid_search.py`` at full size (8 simulated subjects x
285 s, networks trained up to 40 epochs; target: the last subject) and
prints its results table and the search's wall time (target: under 10
minutes on 2 CPU cores).

Run: ``python benchmarks/bench_grid_search.py [--threads 2]``
"""

import argparse
import os
import runpy
import time
import warnings
from pathlib import Path

import matplotlib
import torch
from threadpoolctl import threadpool_limits

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plot_grid_search.py"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    matplotlib.use("Agg")
    os.environ.pop("SKEEG2BOLD_QUICK", None)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    with threadpool_limits(args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    print(f"\nTotal (data, search, figure): {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
