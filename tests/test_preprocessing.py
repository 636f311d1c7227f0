"""Carbon-wire loop regression (skeeg2bold.preprocessing) and the simulated scanner artefacts."""

import mne
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import butter, sosfiltfilt

from skeeg2bold import Recording
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.preprocessing import CWLRegression, OnlineCWLRegression, cwl_regression

SFREQ = 250.0


def _mean_r(a, b):
    return float(np.mean([np.corrcoef(u, v)[0, 1] for u, v in zip(a, b)]))


def _planted(seed=0, n_times=int(60 * SFREQ), n_channels=8, gain=1.0):
    """Clean EEG (band-limited noise), six loops seeing three motion sources,
    and the EEG plus those sources through its own pattern, slightly delayed."""
    rng = np.random.default_rng(seed)
    sos = butter(4, [1.0, 40.0], btype="band", fs=SFREQ, output="sos")
    clean = sosfiltfilt(sos, rng.standard_normal((n_channels, n_times)), axis=1) * 10e-6
    t = np.arange(n_times) / SFREQ
    motion = np.vstack(
        [
            np.sin(2 * np.pi * 1.1 * t) ** 15,  # pulse-like spikes
            np.sin(2 * np.pi * 23.0 * t + 0.3) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)),
            sosfiltfilt(sos, rng.standard_normal(n_times)),
        ]
    )
    motion /= motion.std(axis=1, keepdims=True)
    cw = rng.standard_normal((6, 3)) @ motion * 20e-6 + 0.3e-6 * rng.standard_normal((6, n_times))
    artefact = np.zeros_like(clean)
    pattern = rng.standard_normal((n_channels, 3)) * 15e-6 * gain
    for c in range(n_channels):
        delay = c % 2  # 0 or 4 ms
        shifted = np.pad(motion, ((0, 0), (delay, 0)))[:, :n_times]
        artefact[c] = pattern[c] @ shifted
    return clean, clean + artefact, cw


def band(x, sfreq=250.0):
    """``x`` band-passed to 1-45 Hz, the bands the models use."""
    return sosfiltfilt(butter(4, [1.0, 45.0], btype="band", fs=sfreq, output="sos"), x, axis=1)


def _recording(eeg, cw, names=None):
    n = eeg.shape[1]
    names = names or [f"CW{k + 1}" for k in range(cw.shape[0])]
    return Recording(
        eeg,
        np.zeros((5, 2)),
        np.linspace(1.0, n / SFREQ - 2.0, 5),
        sfreq=SFREQ,
        ch_names=[f"E{k}" for k in range(eeg.shape[0])],
        aux=dict(zip(names, cw)),
    )


def test_removes_a_planted_artefact():
    clean, raw, cw = _planted()
    assert _mean_r(raw, clean) < 0.6
    cleaned = CWLRegression().fit_transform(_recording(raw, cw))
    assert _mean_r(cleaned.eeg, clean) >= 0.95
    # The arrays function gives the same numbers, in the input dtype.
    out = cwl_regression(raw.astype(np.float32), cw, SFREQ)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, cleaned.eeg, rtol=1e-4, atol=1e-10)


def test_leaves_artefact_free_eeg_nearly_unchanged():
    clean, _, cw = _planted(seed=1)
    cleaned = cwl_regression(clean, cw, SFREQ)
    # Only what the regressors explain by chance goes: a few percent of the variance.
    assert _mean_r(cleaned, clean) >= 0.97
    assert np.var(cleaned - clean) < 0.06 * np.var(clean)
    # Without the high-pass the EEG's own offset is kept (the fits are centred).
    no_filter = cwl_regression(clean, cw, SFREQ, highpass=None)
    np.testing.assert_allclose(
        cwl_regression(clean + 1e-3, cw, SFREQ, highpass=None) - 1e-3, no_filter, atol=1e-12
    )


def test_raw_input_matches_recording_input():
    clean, raw, cw = _planted(n_channels=3)
    names = [f"E{k}" for k in range(3)] + [f"CW{k + 1}" for k in range(6)]
    info = mne.create_info(names, SFREQ, ["eeg"] * 3 + ["misc"] * 6)
    raw_obj = mne.io.RawArray(np.vstack([raw, cw]), info, verbose="error")
    out = CWLRegression().transform(raw_obj)
    expected = CWLRegression().transform(_recording(raw, cw)).eeg
    np.testing.assert_allclose(out.get_data(picks="eeg"), expected, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(out.get_data(picks="misc"), cw)  # loops untouched
    np.testing.assert_array_equal(raw_obj.get_data(picks="eeg"), raw)  # input untouched


def test_threads_give_the_same_numbers():
    _, raw, cw = _planted(n_channels=3)
    np.testing.assert_array_equal(
        cwl_regression(raw, cw, SFREQ, n_jobs=2), cwl_regression(raw, cw, SFREQ)
    )


@settings(max_examples=15, deadline=None)
@given(
    chunks=st.lists(st.integers(1, 700), min_size=1, max_size=40),
    highpass=st.sampled_from([None, 1.0]),
)
def test_streaming_equals_causal_offline(chunks, highpass):
    _, raw, cw = _planted(n_times=int(30 * SFREQ), n_channels=3)
    offline = cwl_regression(raw, cw, SFREQ, causal=True, highpass=highpass)
    online = CWLRegression(highpass=highpass).stream(SFREQ, n_channels=3, n_loops=6)
    assert isinstance(online, OnlineCWLRegression)
    edges = np.minimum(np.cumsum([0] + chunks), raw.shape[1])
    if edges[-1] < raw.shape[1]:
        edges = np.r_[edges, raw.shape[1]]
    out = np.hstack([online.process(raw[:, a:b], cw[:, a:b]) for a, b in zip(edges, edges[1:])])
    np.testing.assert_allclose(out, offline, rtol=1e-9, atol=1e-14)
    assert online.n_samples_ == raw.shape[1]


def test_causal_mode_uses_past_samples_only():
    _, raw, cw = _planted(n_times=int(30 * SFREQ), n_channels=2)
    full = cwl_regression(raw, cw, SFREQ, causal=True)
    cut = int(17.3 * SFREQ)
    part = cwl_regression(raw[:, :cut], cw[:, :cut], SFREQ, causal=True)
    np.testing.assert_allclose(part, full[:, :cut], rtol=1e-9, atol=1e-14)
    # The first window has no past: left as it is (without the high-pass).
    first = int(4.0 * SFREQ)
    unfiltered = cwl_regression(raw, cw, SFREQ, causal=True, highpass=None)
    np.testing.assert_array_equal(unfiltered[:, :first], raw[:, :first])
    assert not np.allclose(unfiltered[:, first:], raw[:, first:])


def test_missing_and_flat_loops_are_named():
    _, raw, cw = _planted(n_times=int(20 * SFREQ), n_channels=2)
    rec = Recording(raw, np.zeros((3, 1)), [1.0, 3.0, 5.0], sfreq=SFREQ, ch_names=["a", "b"])
    with pytest.raises(ValueError, match=r"no carbon-wire loop channels \(CW1"):
        CWLRegression().transform(rec)
    flat = cw.copy()
    flat[2] = 0.0
    with pytest.raises(ValueError, match=r"\['CW3'\].*flat"):
        CWLRegression().transform(_recording(raw, flat))
    with pytest.raises(ValueError, match=r"cw_names \['CW9'\] are not in"):
        CWLRegression(cw_names=["CW1", "CW9"]).transform(_recording(raw, cw))
    with pytest.raises(ValueError, match="window"):
        cwl_regression(raw[:, :100], cw[:, :100], SFREQ)
    with pytest.raises(ValueError, match="cw must be 2-D"):
        cwl_regression(raw, cw[:, :-1], SFREQ)
    with pytest.raises(ValueError, match="highpass"):
        cwl_regression(raw, cw, SFREQ, highpass=200.0)
    with pytest.raises(TypeError, match="Recording, an mne.io.Raw"):
        CWLRegression().transform(raw)


def test_recording_aux_is_checked():
    with pytest.raises(ValueError, match=r"aux\['CW1'\] must have shape \(100,\)"):
        Recording(
            np.zeros((1, 100)), np.zeros((2, 1)), [0.1, 0.5], sfreq=100.0, ch_names=["a"],
            aux={"CW1": np.zeros(99)},
        )  # fmt: skip


def test_simulated_scanner_artifacts():
    kw = dict(n_subjects=2, duration=60.0, sfreq=250.0, random_state=4)
    plain = simulate_eeg_fmri(**kw)
    sim = simulate_eeg_fmri(scanner_artifacts=True, **kw)
    for rec0, rec, gt in zip(plain.recordings, sim.recordings, sim.truth):
        # Everything but the EEG is the same; the artefact-free EEG is the truth.
        np.testing.assert_array_equal(gt.eeg_clean, rec0.eeg)
        np.testing.assert_array_equal(rec.bold, rec0.bold)
        np.testing.assert_array_equal(rec.volume_times, rec0.volume_times)
        assert rec0.aux == {}
        assert sorted(rec.aux) == ["CW1", "CW2", "CW3", "CW4", "CW5", "CW6", "ECG"]
        artefact = rec.eeg.astype(float) - gt.eeg_clean
        rms = artefact.std(axis=1).max()
        assert 5e-6 < rms < 60e-6  # tens of microvolts
        # The loops carry no brain signal.
        cw = np.vstack([rec.aux[f"CW{k}"] for k in range(1, 7)])
        assert np.abs(np.corrcoef(band(cw), band(gt.eeg_clean))[:6, 6:]).max() < 0.1
        # The ECG's R peaks are the beats.
        r_peaks = gt.beats[(gt.beats > 1) & (gt.beats < 59)]
        idx = np.round(r_peaks * rec.sfreq).astype(int)
        assert np.all(rec.aux["ECG"][idx] > 0.5e-3)
        # Cleaning brings the EEG closer to the truth.
        # Cleaning brings the 1-45 Hz EEG (the models' bands) closer to the truth.
        cleaned = band(CWLRegression().transform(rec).eeg)
        r_raw = _mean_r(band(rec.eeg), band(gt.eeg_clean))
        assert _mean_r(cleaned, band(gt.eeg_clean)) > max(r_raw + 0.05, 0.95)
    assert sim.params["scanner_artifacts"] is True
    with pytest.raises(TypeError, match="scanner_artifacts"):
        simulate_eeg_fmri(n_subjects=1, duration=30.0, sfreq=100.0, scanner_artifacts="yes")
