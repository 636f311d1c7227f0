"""Carbon-wire loop regression: speed, EEG recovery and BOLD accuracy on simulated scanner EEG.

1. **Speed**: :func:`~skeeg2bold.preprocessing.cwl_regression` on a 5-minute,
   1000 Hz, 30-channel recording with six loops, against a straightforward
   implementation (one ``numpy.linalg.lstsq`` per channel and window, the same
   windows, lags and filter) in the same run; both must give the same numbers.
2. **EEG recovery**: ``simulate_eeg_fmri(scanner_artifacts=True)`` (8 subjects,
   285 s at 250 Hz) gives EEG with pulse, helium-pump and head-motion artefacts
   and the artefact-free EEG. Per band, the Pearson r between each channel of
   the raw / CWL-cleaned / ICA-cleaned EEG and the artefact-free EEG (both
   band-passed), mean over channels and subjects.
3. **BOLD accuracy**: the log-envelope ridge and the Riemannian baseline
   (and with ``--models logridge,riemann,compact`` a network,
   ``EEG2BoldRegressor(CompactNet)`` with ``--epochs`` epochs, about an hour
   more on one thread) on
   raw / CWL-cleaned / artefact-free / ICA-cleaned EEG, the paper's protocol
   with every subject in turn as the target (10 s windows at 100 Hz, 14
   differential ROIs + common mode), mean r over the 15 targets; paired
   differences over the 8 subjects with their standard error.

4. **Causal cleaning** (``--parts causal``): band recovery of the causal
   regression the online twin runs, against the offline one (3 subjects).
5. **Live use** (``--parts live``): models trained on offline-cleaned EEG
   (as ``skeeg2bold fit --data cwl`` trains them), tested on the target's
   final 150 s cleaned causally (as the twin cleans a live stream), against
   the same test windows cleaned offline; paper protocol, 8 subjects.

ICA: :class:`mne.preprocessing.ICA` (20 components, fitted on the 1 Hz
high-passed EEG), components found by
:meth:`~mne.preprocessing.ICA.find_bads_ecg` on the simulated ECG removed.

Run: ``python benchmarks/bench_cwl.py [--parts speed,recovery,bold]
[--models logridge,riemann] [--epochs 15] [--cwl 8:0.02,4:0.05]``
(about 20 minutes on one thread).
"""

import argparse
import time
import warnings

import numpy as np
from scipy.signal import butter, sosfiltfilt
from threadpoolctl import threadpool_limits

from skeeg2bold import Recording, make_windows
from skeeg2bold.baselines import make_ridge_baseline, make_riemann_baseline
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.metrics import pearson_r
from skeeg2bold.model_selection import PaperProtocolSplit
from skeeg2bold.preprocessing import CWLRegression, cwl_regression
from skeeg2bold.preprocessing._cwl import _params, _taper
from skeeg2bold.targets import CommonModeSplitter

BANDS = {"delta": (1, 4), "theta": (4, 8), "alpha": (8, 13), "beta": (13, 30), "gamma": (30, 45)}


def straightforward(eeg, cw, sfreq, window, delay, delay_step=0.01, highpass=0.5):
    """The same regression, one lstsq per channel and window."""
    half, lags, sos = _params(sfreq, window, delay, delay_step, highpass, False)
    cw = sosfiltfilt(sos, cw, axis=1)
    eeg = sosfiltfilt(sos, eeg.astype(float), axis=1)
    n = eeg.shape[1]
    pad = int(np.abs(lags).max())
    cwp = np.pad(cw, ((0, 0), (pad, pad)))
    taper = _taper(half)
    n_blocks = -(-n // half)
    out = eeg.copy()
    for k in range(n_blocks + 1):
        j = min(max(k, 1), n_blocks - 1)
        f0, f1 = (j - 1) * half, min((j + 1) * half, n)  # fitted on
        a0, a1 = max((k - 1) * half, 0), min((k + 1) * half, n)  # applied to
        xf = np.column_stack([cwp[c, pad + np.arange(f0, f1) - d] for c in range(6) for d in lags])
        xa = np.column_stack([cwp[c, pad + np.arange(a0, a1) - d] for c in range(6) for d in lags])
        mean = xf.mean(axis=0)
        w = taper[a0 - (k - 1) * half : a1 - (k - 1) * half]
        for ch in range(eeg.shape[0]):
            beta = np.linalg.lstsq(xf - mean, eeg[ch, f0:f1] - eeg[ch, f0:f1].mean(), rcond=1e-6)[0]
            out[ch, a0:a1] -= w * ((xa - mean) @ beta)
    return out


def speed(settings):
    rng = np.random.default_rng(0)
    sfreq, n = 1000.0, 300_000
    sos = butter(4, [1, 40], btype="band", fs=sfreq, output="sos")
    motion = sosfiltfilt(sos, rng.standard_normal((6, n)), axis=1)
    cw = rng.standard_normal((6, 6)) @ motion + 0.1 * rng.standard_normal((6, n))
    eeg = rng.standard_normal((30, 6)) @ motion + sosfiltfilt(sos, rng.standard_normal((30, n)))
    print("\n## Speed: 5 min, 1000 Hz, 30 EEG channels, 6 loops (one thread)\n")
    print("| window, delay | cwl_regression | per channel and window | ratio | max abs diff |")
    print("|---|---|---|---|---|")
    for window, delay in settings:
        t0 = time.perf_counter()
        fast = cwl_regression(eeg, cw, sfreq, window=window, delay=delay)
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        slow = straightforward(eeg, cw, sfreq, window, delay)
        t_slow = time.perf_counter() - t0
        diff = np.abs(fast - slow).max() / np.abs(slow).max()
        print(
            f"| {window:g} s, +-{delay * 1e3:g} ms | {t_fast:.2f} s | {t_slow:.1f} s | "
            f"{t_slow / t_fast:.0f}x | {diff:.1e} (relative) |"
        )


def ica_clean(rec):
    """ICA with the components found on the ECG removed."""
    import mne

    info = mne.create_info([*rec.ch_names, "ECG"], rec.sfreq, ["eeg"] * rec.n_channels + ["ecg"])
    raw = mne.io.RawArray(np.vstack([rec.eeg.astype(float), rec.aux["ECG"]]), info, verbose="error")
    filtered = raw.copy().filter(1.0, None, verbose="error")
    ica = mne.preprocessing.ICA(n_components=20, random_state=0, max_iter=400, verbose="error")
    ica.fit(filtered, picks="eeg", verbose="error")
    bads, _ = ica.find_bads_ecg(raw, ch_name="ECG", verbose="error")
    ica.exclude = bads
    cleaned = ica.apply(raw.copy(), verbose="error").get_data(picks="eeg")
    return _with_eeg(rec, cleaned.astype(rec.eeg.dtype)), len(bads)


def _with_eeg(rec, eeg):
    return Recording(
        eeg, rec.bold, rec.volume_times, sfreq=rec.sfreq, ch_names=rec.ch_names,
        roi_names=rec.roi_names, subject=rec.subject,
    )  # fmt: skip


def band_r(x, truth, sfreq):
    out = {}
    for name, (lo, hi) in BANDS.items():
        sos = butter(4, [lo, hi], btype="band", fs=sfreq, output="sos")
        a, b = sosfiltfilt(sos, x, axis=1), sosfiltfilt(sos, truth, axis=1)
        a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
        out[name] = float(np.mean((a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))))
    return out


def model_factories(epochs):
    def compact():
        from skeeg2bold.nn import CompactNet, EEG2BoldRegressor

        return EEG2BoldRegressor(CompactNet, max_epochs=epochs, random_state=0)

    return {
        "logridge": lambda: make_ridge_baseline(log=True),
        "riemann": make_riemann_baseline,
        "compact": compact,
    }


def bold_scores(recordings, names, epochs, tests=None):
    """Paper-protocol r per model and target subject: ``scores[test][model][subject]``.

    Models are fitted on the windows of ``recordings`` and tested on them
    (``""``) and on each of ``tests`` (name -> recordings of the same EEG
    cleaned otherwise, the same windows).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_windows(recordings, window=10.0, sfreq=100.0, dtype="float32")
        test_X = {"": data.X}
        for k, r in (tests or {}).items():
            test_X[k] = make_windows(r, window=10.0, sfreq=100.0, dtype="float32").X
    for X in test_X.values():
        np.testing.assert_array_equal(X.times, data.X.times)  # the same windows
    y = CommonModeSplitter().fit_transform(data.y)
    subjects = sorted(np.unique(data.groups))
    factories = model_factories(epochs)
    scores = {k: {m: {} for m in names} for k in test_X}
    for subject, (train, test) in zip(
        subjects, PaperProtocolSplit(subjects=subjects).split(data.X)
    ):
        for m in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = factories[m]().fit(data.X[train], y[train])
            for k, X in test_X.items():
                r = pearson_r(y[test], model.predict(X[test])).mean()
                scores[k][m][subject] = float(r)
    return scores


def causal_recovery(sfreq, n_subjects=3, skip=16.0):
    """Band r with the artefact-free EEG: raw, offline and causal (online) cleaning."""
    sim = simulate_eeg_fmri(
        n_subjects=n_subjects, sfreq=sfreq, scanner_artifacts=True, random_state=0
    )
    print(f"\n## causal cleaning: band r with the artefact-free EEG, first {skip:g} s left out\n")
    print("| EEG | " + " | ".join(BANDS) + " |")
    print("|---" * (len(BANDS) + 1) + "|")
    for name, reg in (
        ("raw", None),
        ("cwl 8 s +-20 ms, offline", CWLRegression()),
        ("cwl 8 s +-20 ms, causal", CWLRegression(causal=True)),
    ):
        rs = []
        for rec, gt in zip(sim.recordings, sim.truth):
            eeg = rec.eeg if reg is None else reg.transform(rec).eeg
            k = int(skip * rec.sfreq)
            rs.append(band_r(eeg[:, k:].astype(float), gt.eeg_clean[:, k:], rec.sfreq))
        print(
            f"| {name} | " + " | ".join(f"{np.mean([r[b] for r in rs]):.3f}" for b in BANDS) + " |"
        )


def live_scores(sfreq, names, epochs):
    """Trained on offline-cleaned EEG; tested on offline- and on causally-cleaned EEG."""
    sim = simulate_eeg_fmri(sfreq=sfreq, scanner_artifacts=True, random_state=0)
    offline = CWLRegression().transform(sim.recordings)
    causal = CWLRegression(causal=True).transform(sim.recordings)
    scores = bold_scores(offline, names, epochs, tests={"causal": causal})
    print(
        "\n## Live use: trained on offline-cleaned EEG, tested on the target's final 150 s "
        "cleaned offline or causally (mean r over 15 targets, 8 targets)\n"
    )
    print("| model | test EEG cleaned offline | cleaned causally (live) | causal - offline |")
    print("|---|---|---|---|")
    for m in names:
        a = np.array(list(scores[""][m].values()))
        b = np.array(list(scores["causal"][m].values()))
        d = b - a
        print(
            f"| {m} | {a.mean():.3f} | {b.mean():.3f} | "
            f"{d.mean():+.3f} +- {d.std(ddof=1) / np.sqrt(d.size):.3f} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="speed,recovery,bold")
    parser.add_argument("--models", default="logridge,riemann")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--cwl", default="8:0.02,4:0.05", help="window:delay settings")
    parser.add_argument("--sfreq", type=float, default=250.0)
    args = parser.parse_args()
    parts = args.parts.split(",")
    settings = [tuple(float(v) for v in s.split(":")) for s in args.cwl.split(",")]
    with threadpool_limits(1):
        import torch

        torch.set_num_threads(1)
        if "speed" in parts:
            speed(settings)
        if "causal" in parts:
            causal_recovery(args.sfreq)
        if "live" in parts:
            live_scores(args.sfreq, args.models.split(","), args.epochs)
        if not {"recovery", "bold"} & set(parts):
            return
        t0 = time.perf_counter()
        sim = simulate_eeg_fmri(sfreq=args.sfreq, scanner_artifacts=True, random_state=0)
        truth = [gt.eeg_clean for gt in sim.truth]
        conditions = {"raw": sim.recordings}
        for window, delay in settings:
            name = f"cwl {window:g} s +-{delay * 1e3:g} ms"
            conditions[name] = CWLRegression(window=window, delay=delay).transform(sim.recordings)
        conditions["artefact-free"] = [_with_eeg(r, e) for r, e in zip(sim.recordings, truth)]
        icas = [ica_clean(r) for r in sim.recordings]
        conditions["ica (ecg)"] = [c for c, _ in icas]
        print(
            f"\n(simulated and cleaned in {time.perf_counter() - t0:.0f} s; ICA removed "
            f"{[n for _, n in icas]} components)"
        )
        if "recovery" in parts:
            print("\n## EEG recovery: r with the artefact-free EEG per band\n")
            print("| EEG | " + " | ".join(BANDS) + " |")
            print("|---" * (len(BANDS) + 1) + "|")
            for name, recs in conditions.items():
                if name == "artefact-free":
                    continue
                rs = [band_r(r.eeg.astype(float), t, args.sfreq) for r, t in zip(recs, truth)]
                print(
                    f"| {name} | "
                    + " | ".join(f"{np.mean([r[b] for r in rs]):.3f}" for b in BANDS)
                    + " |"
                )
        if "bold" in parts:
            names = args.models.split(",")
            results = {}
            for cond, recs in conditions.items():
                t1 = time.perf_counter()
                results[cond] = bold_scores(recs, names, args.epochs)[""]
                print(f"  ({cond}: {time.perf_counter() - t1:.0f} s)", flush=True)
            print(
                "\n## BOLD accuracy: mean r over 15 targets, paper protocol, 8 targets; "
                "paired difference from artefact-free (mean +- se over subjects)\n"
            )
            print("| model | " + " | ".join(conditions) + " |")
            print("|---" * (len(conditions) + 1) + "|")
            for m in names:
                ref = np.array(list(results["artefact-free"][m].values()))
                cells = []
                for cond in conditions:
                    v = np.array(list(results[cond][m].values()))
                    d = v - ref
                    cells.append(
                        f"{v.mean():.3f}"
                        + ("" if cond == "artefact-free" else
                           f" ({d.mean():+.3f} +- {d.std(ddof=1) / np.sqrt(d.size):.3f})")
                    )  # fmt: skip
                print(f"| {m} | " + " | ".join(cells) + " |")
        print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
