"""CUDA path: fit and predict on the GPU, timed, and the same network's predictions on CPU.

For a machine with a CUDA device. On simulated data (3 subjects x 285 s,
10 s windows at 100 Hz), for :class:`~skeeg2bold.nn.CompactNet` and
:class:`~skeeg2bold.nn.EEG2BoldNet` at their defaults:

1. ``EEG2BoldRegressor(device="cuda").fit`` (a few epochs) and ``predict``,
   with their wall times, beside the same fit on CPU;
2. the GPU-trained network moved to the CPU predicts what it predicted on
   the GPU (float32 tolerance): the CUDA path computes the same function;
3. the band-pass cache (fixed filters, computed on the CPU) feeds both.

Without CUDA it says so and exits with status 0 (nothing to check).

Run: ``python benchmarks/bench_cuda.py [--epochs 5] [--device cuda]``
"""

import argparse
import copy
import sys
import time
import warnings

import numpy as np
import torch

from skeeg2bold import make_windows
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.nn import CompactNet, EEG2BoldNet, EEG2BoldRegressor
from skeeg2bold.targets import CommonModeSplitter


def _timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument(
        "--device",
        default="cuda",
        help="device under test; 'cpu' runs the script's own logic without a GPU",
    )
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "CUDA is not available (torch.cuda.is_available() is False): nothing to "
            f"check on this machine (torch {torch.__version__}). Run this script on a "
            "machine with an NVIDIA GPU and a CUDA build of torch."
        )
        return 0
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    print(f"device under test: {name}, torch {torch.__version__}")
    sim = simulate_eeg_fmri(n_subjects=args.subjects, sfreq=250.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_windows(sim.recordings, window=10.0, sfreq=100.0, dtype="float32")
    y = CommonModeSplitter().fit_transform(data.y)
    print(f"{len(y)} windows; {args.epochs} epochs per fit\n")
    print(
        "| network | fit CPU (s) | fit CUDA (s) | predict CPU (s) | predict CUDA (s) "
        "| max |CUDA - CPU| of the CUDA-trained network | rel. |"
    )
    print("|---|---|---|---|---|---|---|")
    failed = False
    for module in (CompactNet, EEG2BoldNet):
        params = {"max_epochs": args.epochs, "patience": None, "random_state": 0}
        cpu = EEG2BoldRegressor(module, device="cpu", **params)
        _, fit_cpu = _timed(lambda cpu=cpu: cpu.fit(data.X, y))
        _, pred_cpu_t = _timed(lambda cpu=cpu: cpu.predict(data.X))
        gpu = EEG2BoldRegressor(module, device=args.device, **params)
        _, fit_gpu = _timed(lambda gpu=gpu: gpu.fit(data.X, y))
        pred_gpu, pred_gpu_t = _timed(lambda gpu=gpu: gpu.predict(data.X))
        assert next(gpu.module_.parameters()).device.type == torch.device(args.device).type
        # The same trained network on the CPU.
        moved = copy.deepcopy(gpu)
        moved.set_params(device="cpu")
        moved.module_.to("cpu")
        moved.device = "cpu"
        pred_moved = moved.predict(data.X)
        diff = float(np.abs(pred_gpu - pred_moved).max())
        rel = diff / float(np.abs(pred_moved).max())
        ok = np.allclose(pred_gpu, pred_moved, rtol=1e-3, atol=1e-3 * np.abs(pred_moved).max())
        failed |= not ok
        print(
            f"| {module.__name__} | {fit_cpu:.1f} | {fit_gpu:.1f} | {pred_cpu_t:.2f} | "
            f"{pred_gpu_t:.2f} | {diff:.2e} | {rel:.1e} {'ok' if ok else 'MISMATCH'} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
