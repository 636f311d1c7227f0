"""Out-of-distribution score on planted recording faults: true and false positive rates.

For every simulator setting and subject, :class:`~skeeg2bold.uncertainty.
CovarianceOODScore` (``alpha=0.01``) is fitted on the subject's first 60 s of
EEG (10 s windows every 0.25 s, as the online twin's calibration takes them)
and scores the 10 s windows (one per TR) of the rest of the recording:

- ``clean``: as recorded: the false-positive rate;
- ``pop``: an electrode pop on one channel (a random one per window): a
  300 µV step at a random time of the window, decaying with a 0.5 s time
  constant;
- ``gain10``: every channel 10 times larger;
- ``units``: microvolts read as volts (every sample times 1e6);
- ``swap``: two channels exchanged (a random pair per window).

Reported: the fraction of windows flagged (p < 0.01), over the 8 subjects.

Run: ``python benchmarks/bench_ood.py [--settings default,bursts]`` (about 3 min
on two cores shared with other jobs).
"""

import argparse
import time
import warnings

import numpy as np

from skeeg2bold import EEGWindows, datasets, make_windows
from skeeg2bold._signature import WindowSignature
from skeeg2bold.online._calibration import calibration_windows
from skeeg2bold.uncertainty import CovarianceOODScore

SETTINGS = {
    "default": ("simulate_eeg_fmri", dict(random_state=0)),
    "bursts": ("simulate_burst_eeg_fmri", dict(random_state=0)),
}
CALIBRATION = 60.0
FAULTS = ("clean", "pop", "gain10", "units", "swap")


def plant(X, fault, sfreq, rng):
    """``X`` (n_windows, n_channels, n_times) with ``fault`` planted in every window."""
    X = np.array(X, dtype=np.float64)
    n, n_channels, n_times = X.shape
    if fault == "gain10":
        X *= 10
    elif fault == "units":
        X *= 1e6
    elif fault == "pop":
        for w in range(n):
            at = rng.integers(n_times // 4, n_times)
            t = np.arange(n_times - at) / sfreq
            X[w, rng.integers(n_channels), at:] += 300e-6 * np.exp(-t / 0.5)
    elif fault == "swap":
        for w in range(n):
            a, b = rng.choice(n_channels, 2, replace=False)
            X[w, [a, b]] = X[w, [b, a]]
    return X


def run_setting(name):
    family, kwargs = SETTINGS[name]
    t0 = time.perf_counter()
    sim = getattr(datasets, family)(**kwargs)
    rng = np.random.default_rng(0)
    flagged = {fault: [] for fault in FAULTS}
    n_cal = []
    for rec in sim.recordings:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = make_windows([rec], window=10.0, sfreq=100.0)
        signature = WindowSignature(list(rec.ch_names), rec.n_channels, 100.0, 1000, "bench")
        stop = int(CALIBRATION * rec.sfreq)
        cal = calibration_windows(
            rec.eeg[:, :stop],
            sfreq=rec.sfreq,
            ch_names=list(rec.ch_names),
            signature=signature,
            subject=rec.subject,
        )
        score = CovarianceOODScore(alpha=0.01).fit(cal)
        n_cal.append(len(cal))
        test = np.asarray(data.X)[data.X.times - 10.0 >= CALIBRATION]
        for fault in FAULTS:
            X = plant(test, fault, 100.0, rng)
            X = EEGWindows.from_array(
                X, sfreq=100.0, ch_names=list(rec.ch_names), groups=[rec.subject] * len(X)
            )
            flagged[fault].append(score.predict(X))
    return flagged, int(np.mean(n_cal)), time.perf_counter() - t0


def report(name, flagged, n_cal, seconds):
    family, kwargs = SETTINGS[name]
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    per_subject = {f: [x.mean() for x in flagged[f]] for f in FAULTS}
    n_test = sum(len(x) for x in flagged["clean"])
    lines = [
        f"\n### Setting `{name}` ({family}({args}); {n_cal} calibration windows per subject, "
        f"{n_test} test windows; {seconds:.0f} s)\n",
        "| fault | flagged (all windows) | subjects' range |",
        "|---|---|---|",
    ]
    for fault in FAULTS:
        rate = np.concatenate(flagged[fault]).mean()
        what = "false positives" if fault == "clean" else "true positives"
        lines.append(
            f"| {fault} ({what}) | {rate:.1%} | {min(per_subject[fault]):.1%}–"
            f"{max(per_subject[fault]):.1%} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args(argv)
    print("## ood")
    print(
        "\nCovarianceOODScore (alpha=0.01) fitted on each subject's first 60 s, on the "
        "rest of its recording with planted faults (see the script's docstring)."
    )
    for name in args.settings.split(","):
        print(report(name, *run_setting(name)), flush=True)


if __name__ == "__main__":
    main()
