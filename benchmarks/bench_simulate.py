"""Generation time and memory of the default simulated data set (8 subjects x 285 s at 1000 Hz).

Times ``simulate_eeg_fmri()`` with its defaults against the peer measured in
the same run: drawing the same number of float32 Gaussian samples (the cost
of merely producing an output of that size). Reports the peak memory the
generation allocates against the size of its output (target: a small
multiple, independent of the number of subjects), and the per-ROI noise
ceilings at the defaults.

Run: ``python benchmarks/bench_simulate.py``
"""

import time
import tracemalloc

import numpy as np

from skeeg2bold.datasets import simulate_eeg_fmri


def main(n_subjects=8, duration=285.0, sfreq=1000.0, random_state=0):
    # Warm-up: imports, the cached template head, FFT plans.
    simulate_eeg_fmri(n_subjects=1, duration=20.0, sfreq=sfreq, random_state=random_state)

    t0, c0 = time.perf_counter(), time.process_time()
    sim = simulate_eeg_fmri(
        n_subjects=n_subjects, duration=duration, sfreq=sfreq, random_state=random_state
    )
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    eeg_bytes = sum(rec.eeg.nbytes for rec in sim.recordings)
    del sim

    rng = np.random.default_rng(0)
    shape = (30, int(duration * sfreq))
    t0 = time.perf_counter()
    for _ in range(n_subjects):
        rng.standard_normal(shape, dtype=np.float32)
    peer = time.perf_counter() - t0

    tracemalloc.start()
    sim = simulate_eeg_fmri(
        n_subjects=n_subjects, duration=duration, sfreq=sfreq, random_state=random_state
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    mib = 2**20
    print(
        f"{n_subjects} subjects x {duration:g} s x 30 channels at {sfreq:g} Hz "
        f"({sim.recordings[0].n_volumes} volumes each)"
    )
    # CPU time too: on a shared machine the wall time measures the neighbours.
    print(
        f"simulate_eeg_fmri: {elapsed:6.2f} s wall, {cpu:.2f} s CPU "
        f"({elapsed / n_subjects:.2f} s wall per subject)"
    )
    print(
        f"peer, float32 Gaussian draws of the same size: {peer:6.2f} s  "
        f"(simulator / peer = {elapsed / peer:.1f}x)"
    )
    print(
        f"EEG output {eeg_bytes / mib:.0f} MiB; peak allocated {peak / mib:.0f} MiB "
        f"= {peak / eeg_bytes:.2f}x the output"
    )
    print("noise ceiling per ROI (raw | minus common mode):")
    for name, raw, diff, design in zip(
        sim.roi_names, sim.noise_ceiling, sim.noise_ceiling_differential, sim.design_ceiling
    ):
        print(f"  {name:18s} {raw:.2f} | {diff:.2f}   (design {design:.2f})")
    print(f"  {'common mode':18s} {sim.noise_ceiling_common_mode:.2f}")
    print(
        f"  {'mean of 14':18s} {sim.noise_ceiling.mean():.2f} | "
        f"{sim.noise_ceiling_differential.mean():.2f}"
    )
    return dict(
        seconds=elapsed,
        cpu_seconds=cpu,
        peer_seconds=peer,
        peak_ratio=peak / eeg_bytes,
        noise_ceiling=sim.noise_ceiling.tolist(),
        noise_ceiling_differential=sim.noise_ceiling_differential.tolist(),
        noise_ceiling_common_mode=sim.noise_ceiling_common_mode,
    )


if __name__ == "__main__":
    main()
