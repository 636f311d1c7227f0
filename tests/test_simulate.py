"""Tests of the EEG-fMRI simulator: layout, determinism, ceiling, learnability, spectra."""

import numpy as np
import pytest
from scipy.signal import welch
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold, cross_val_predict

from skeeg2bold import DroppedWindowsWarning, make_windows
from skeeg2bold.datasets import (
    BAND_NAMES,
    CWL_CH_NAMES,
    FEATURE_NAMES,
    ROI_NAMES,
    ceiling_for,
    simulate_eeg_fmri,
)
from skeeg2bold.datasets._bold import convolve_hrf, hrf
from skeeg2bold.datasets._signals import sample
from skeeg2bold.metrics import pearson_r
from skeeg2bold.model_selection import PaperProtocolSplit

N_SUBJECTS = 6
DURATION = 285.0
SFREQ = 100.0


@pytest.fixture(scope="module")
def sim():
    # Full-length runs at a low rate: everything but the EEG rate is the default.
    return simulate_eeg_fmri(n_subjects=N_SUBJECTS, duration=DURATION, sfreq=SFREQ, random_state=0)


def test_layout_names_and_rates(sim):
    assert len(sim.recordings) == len(sim.truth) == N_SUBJECTS
    assert [rec.subject for rec in sim.recordings] == [f"sub-0{k}" for k in range(1, 7)]
    assert sim.roi_names == list(ROI_NAMES)
    assert ROI_NAMES[:7] == (
        "Left Thalamus",
        "Left Caudate",
        "Left Putamen",
        "Left Pallidum",
        "Left Hippocampus",
        "Left Amygdala",
        "Left Accumbens",
    )
    assert ROI_NAMES[7] == "Right Thalamus"
    for rec, gt in zip(sim.recordings, sim.truth):
        assert rec.ch_names == list(CWL_CH_NAMES) and len(rec.ch_names) == 30
        assert rec.sfreq == SFREQ
        assert rec.eeg.shape == (30, int(DURATION * SFREQ))
        assert rec.eeg.dtype == np.float32
        assert rec.bold.shape == (rec.n_volumes, 14)
        assert rec.roi_names == list(ROI_NAMES)
        # Every channel has a position from the montage (topographic plots).
        pos = np.array([ch["loc"][:3] for ch in rec.info["chs"]])
        assert np.all(np.isfinite(pos)) and np.all(np.linalg.norm(pos, axis=1) > 0.05)
        # EEG in volts, tens of microvolts.
        assert 5e-6 < np.median(rec.eeg.std(axis=1)) < 60e-6
        n_lat = gt.latent_times.size
        assert gt.latents.shape == (n_lat, len(FEATURE_NAMES))
        assert gt.envelopes.shape == (n_lat, len(sim.source_names), len(BAND_NAMES))
        assert gt.drive.shape == gt.drive_visible.shape == (n_lat, 14)
        assert gt.oracle.shape == gt.bold_clean.shape == rec.bold.shape
        assert np.all((gt.hrf_peak >= 4.0) & (gt.hrf_peak <= 7.0))
        assert gt.latent_times[0] < -30 and gt.latent_times[-1] >= DURATION


def test_volume_timing(sim):
    for rec in sim.recordings:
        onsets = rec.volume_times
        assert 0.5 <= onsets[0] <= 2.1
        assert onsets[-1] < rec.duration
        assert rec.tr == pytest.approx(1.95, abs=0.003)
        intervals = np.diff(onsets)
        assert intervals.std() > 0  # markers jitter, never a perfect grid
        assert np.all(np.abs(intervals - 1.95) < 0.02)
        assert 143 <= rec.n_volumes <= 146  # the CWL runs: ~146 volumes


def test_deterministic_and_subjects_independent_of_count():
    kw = dict(duration=40.0, sfreq=100.0)
    a = simulate_eeg_fmri(n_subjects=2, random_state=7, **kw)
    b = simulate_eeg_fmri(n_subjects=2, random_state=7, **kw)
    c = simulate_eeg_fmri(n_subjects=1, random_state=7, **kw)
    d = simulate_eeg_fmri(n_subjects=1, random_state=8, **kw)
    for ra, rb in zip(a.recordings, b.recordings):
        np.testing.assert_array_equal(ra.eeg, rb.eeg)
        np.testing.assert_array_equal(ra.bold, rb.bold)
        np.testing.assert_array_equal(ra.volume_times, rb.volume_times)
    np.testing.assert_array_equal(a.recordings[0].eeg, c.recordings[0].eeg)
    np.testing.assert_array_equal(a.recordings[0].bold, c.recordings[0].bold)
    assert not np.allclose(c.recordings[0].eeg, d.recordings[0].eeg)
    # Subjects differ from each other.
    assert not np.allclose(a.truth[0].coupling, a.truth[1].coupling)


def test_oracle_reaches_the_stated_ceiling(sim):
    pooled_bold = np.vstack([r.bold - r.bold.mean(0) for r in sim.recordings])
    pooled_oracle = np.vstack([g.oracle - g.oracle.mean(0) for g in sim.truth])
    np.testing.assert_allclose(pearson_r(pooled_bold, pooled_oracle), sim.noise_ceiling, atol=1e-12)
    # The realised ceiling matches the variance budget it was designed from,
    # and the defaults make it hard but learnable.
    assert np.abs(sim.noise_ceiling - sim.design_ceiling).mean() < 0.06
    assert np.all((sim.noise_ceiling > 0.3) & (sim.noise_ceiling < 0.8))
    assert 0.4 < sim.noise_ceiling.mean() < 0.65
    assert np.all((sim.noise_ceiling_differential > 0.3) & (sim.noise_ceiling_differential < 0.85))
    assert 0.2 < sim.noise_ceiling_common_mode < 0.7
    # Thalamus is designed the most visible ROI, the amygdala among the least.
    assert sim.design_ceiling[0] > sim.design_ceiling[5]
    # The noise-free BOLD is more than the oracle: the invisible drive.
    for gt in sim.truth:
        r_clean = pearson_r(gt.bold_clean, gt.oracle)
        assert np.all(r_clean < 0.99) and np.all(r_clean > 0.2) and r_clean.mean() > 0.6


def test_no_model_on_the_latents_beats_the_ceiling(sim):
    # A ridge that sees the true EEG-visible latents (several HRF-lagged
    # copies) can approach but not pass the ceiling on held-out subjects.
    X, Y, groups = _hrf_features(sim, lambda gt: gt.latents, lags=(4.0, 5.5, 7.0))
    pred = cross_val_predict(
        RidgeCV(alphas=np.logspace(-2, 3, 11)), X, Y, groups=groups, cv=GroupKFold(3)
    )
    r = pearson_r(Y, pred)
    assert r.mean() < sim.noise_ceiling.mean()
    assert r.mean() > 0.5 * sim.noise_ceiling.mean()


def test_ceiling_for_transforms_and_parts(sim):
    n = len(ROI_NAMES)
    np.testing.assert_allclose(ceiling_for(sim, np.eye(n)), sim.noise_ceiling)
    np.testing.assert_allclose(ceiling_for(sim, lambda y: 2.0 * y + 3.0), sim.noise_ceiling)
    diff = np.eye(n) - 1.0 / n
    np.testing.assert_allclose(ceiling_for(sim, diff), sim.noise_ceiling_differential)
    test_part = ceiling_for(sim, subjects=["sub-06"], tmin=DURATION - 150.0)
    rec, gt = sim.recordings[5], sim.truth[5]
    keep = rec.volume_times >= DURATION - 150.0
    np.testing.assert_allclose(test_part, pearson_r(rec.bold[keep], gt.oracle[keep]))
    with pytest.raises(ValueError, match="transform must be a matrix"):
        ceiling_for(sim, np.eye(3))
    with pytest.raises(ValueError, match="sub-99"):
        ceiling_for(sim, subjects=["sub-99"])
    with pytest.raises(ValueError, match="no recording"):
        ceiling_for(sim, tmin=DURATION + 10.0)


def test_difficulty_knobs_move_the_ceiling():
    kw = dict(n_subjects=2, duration=150.0, sfreq=100.0, random_state=3)
    easy = simulate_eeg_fmri(invisible_fraction=0.0, snr=100.0, **kw)
    hard = simulate_eeg_fmri(invisible_fraction=0.8, snr=0.5, **kw)
    # Even with invisible_fraction=0 the amygdala and accumbens keep their
    # positive offsets: the realised ceilings follow the designed ones.
    assert np.abs(easy.noise_ceiling - easy.design_ceiling).max() < 0.05
    assert easy.noise_ceiling.min() > 0.85
    assert hard.noise_ceiling.mean() < 0.35
    np.testing.assert_allclose(hard.design_ceiling[7:], hard.design_ceiling[:7])


def test_informed_linear_model_beats_time_shuffled(sim):
    # Ridge on the true source envelopes convolved with a canonical HRF,
    # trained on other subjects: well above chance. The same model on BOLD
    # circularly shifted in time (autocorrelation kept, alignment broken)
    # scores at chance.
    X, Y, groups = _hrf_features(
        sim, lambda gt: np.log(gt.envelopes.reshape(gt.envelopes.shape[0], -1))
    )
    rng = np.random.default_rng(0)

    def score(target):
        pred = cross_val_predict(
            RidgeCV(alphas=np.logspace(0, 4, 9)), X, target, groups=groups, cv=GroupKFold(3)
        )
        return np.mean(
            [pearson_r(target[groups == g], pred[groups == g]).mean() for g in np.unique(groups)]
        )

    aligned = score(Y)
    # Chance with slow signals is wide: average over a few shifts.
    shifted = np.mean(
        [
            score(
                np.vstack(
                    [
                        np.roll(Y[groups == g], rng.integers(30, 110), axis=0)
                        for g in np.unique(groups)
                    ]
                )
            )
            for _ in range(4)
        ]
    )
    assert aligned > 0.1
    assert abs(shifted) < 0.05
    assert aligned > shifted + 0.08


def test_eeg_spectra_are_plausible(sim):
    rec = sim.recordings[0]
    freqs, psd = welch(rec.eeg.astype(float), rec.sfreq, nperseg=int(4 * rec.sfreq))
    idx = {name: rec.ch_names.index(name) for name in rec.ch_names}
    broad = (freqs >= 2) & (freqs <= 40)
    alpha = (freqs >= 8) & (freqs <= 13)

    def rel_alpha(ch):
        return psd[idx[ch], alpha].sum() / psd[idx[ch], broad].sum()

    search = (freqs >= 5) & (freqs <= 20)
    for ch in ("O1", "O2", "Pz"):
        peak = freqs[search][np.argmax(psd[idx[ch], search])]
        assert 8.0 <= peak <= 12.5, (ch, peak)
    posterior = np.mean([rel_alpha(ch) for ch in ("O1", "O2", "Pz")])
    frontal = np.mean([rel_alpha(ch) for ch in ("Fz", "F3", "F4")])
    assert posterior > 1.5 * frontal
    # Aperiodic slope away from the alpha/beta peaks: EEG exponents are ~1-2.
    aperiodic = broad & ~((freqs > 6) & (freqs < 16))
    for ch in ("Cz", "Fz", "Pz"):
        slope = np.polyfit(np.log(freqs[aperiodic]), np.log(psd[idx[ch], aperiodic]), 1)[0]
        assert -2.5 < slope < -0.8, (ch, slope)


def test_deep_sources_have_weak_footprints(sim):
    deep = np.array(["thalamus" in s or "mesiotemporal" in s for s in sim.source_names])
    for gt in sim.truth:
        peak_gain = np.abs(gt.gain).max(axis=0)
        assert np.median(peak_gain[deep]) < 0.5 * np.median(peak_gain[~deep])


def test_leadfield_is_mne_dipole_forward():
    # The projected free-orientation leadfield equals mne's fixed-dipole
    # forward for the same head, and heads differ between subjects.
    import mne

    from skeeg2bold.datasets._head import subject_head

    rng = np.random.default_rng(0)
    head, other = subject_head(rng), subject_head(rng)
    info = mne.create_info(list(CWL_CH_NAMES), 1000.0, ch_types="eeg")
    info.set_montage(
        mne.channels.make_dig_montage(
            ch_pos=dict(zip(CWL_CH_NAMES, head["ch_pos"])), coord_frame="head"
        )
    )
    sphere = mne.make_sphere_model(r0=head["r0"], head_radius=head["radius"], verbose=False)
    n = head["src_pos"].shape[0]
    dipoles = mne.Dipole(
        np.arange(n, dtype=float), head["src_pos"], np.ones(n), head["src_ori"], np.ones(n)
    )
    fwd, _ = mne.make_forward_dipole(dipoles, sphere, info, verbose=False)
    np.testing.assert_allclose(head["gain"], fwd["sol"]["data"], rtol=1e-6)
    assert not np.allclose(head["gain"], other["gain"], rtol=0.05)


def test_artifacts_are_frontal_blinks_and_cardiac():
    kw = dict(n_subjects=1, duration=60.0, sfreq=100.0, random_state=5)
    with_art = simulate_eeg_fmri(**kw)
    clean = simulate_eeg_fmri(artifacts=False, **kw)
    np.testing.assert_array_equal(with_art.recordings[0].bold, clean.recordings[0].bold)
    art = (with_art.recordings[0].eeg - clean.recordings[0].eeg).astype(float)
    names = list(CWL_CH_NAMES)
    power = (art**2).mean(axis=1)
    assert power[names.index("Fp1")] > 10 * power[names.index("O1")]
    # Far from the eyes what remains beats with the heart: the residue's
    # autocorrelation peaks one heartbeat later.
    back = art[names.index("O1")]
    back = back - back.mean()
    acf = np.correlate(back, back, mode="full")[back.size - 1 :] / (back @ back)
    rr = int(round(100.0 * 60.0 / with_art.truth[0].heart_rate))
    assert acf[int(0.85 * rr) : int(1.15 * rr)].max() > 0.3
    assert acf[int(0.4 * rr) : int(0.6 * rr)].max() < 0.3


def test_windows_and_paper_protocol_fit(sim):
    with pytest.warns(DroppedWindowsWarning, match="before the EEG has 10 s"):
        data = make_windows(sim.recordings, window=10.0)
    assert data.X.shape[1:] == (30, int(10 * SFREQ))
    splits = list(PaperProtocolSplit().split_with_validation(data.X, data.y))
    assert len(splits) == N_SUBJECTS
    assert all(len(test) >= 70 for _, _, test in splits)  # 150 s at TR 1.95


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_subjects=0), ValueError, "n_subjects"),
        (dict(n_subjects=1.5), TypeError, "n_subjects"),
        (dict(sfreq=50.0), ValueError, "sfreq"),
        (dict(invisible_fraction=0.9), ValueError, "invisible_fraction"),
        (dict(snr=-1.0), ValueError, "snr"),
        (dict(duration=5.0), ValueError, "duration"),
        (dict(dtype=np.int32), ValueError, "dtype"),
        (dict(artifacts="yes"), TypeError, "artifacts"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate_eeg_fmri(**{"duration": 30.0, "sfreq": 100.0, **kwargs})


def _hrf_features(sim, get, lags=(5.0,)):
    """Per-volume features: ``get(truth)`` convolved with HRFs peaking at ``lags``."""
    X, Y, groups = [], [], []
    for rec, gt in zip(sim.recordings, sim.truth):
        feats = get(gt)
        feats = feats - feats.mean(axis=0)
        cols = [
            sample(
                convolve_hrf(feats, np.repeat(hrf(lag)[:, None], feats.shape[1], 1)),
                gt.latent_times,
                rec.volume_times,
            )
            for lag in lags
        ]
        X.append(np.hstack(cols))
        Y.append(rec.bold - rec.bold.mean(axis=0))
        groups += [rec.subject] * rec.n_volumes
    return np.vstack(X), np.vstack(Y), np.array(groups)


def test_source_recordings_are_what_the_leadfield_mixes_into_the_eeg():
    import warnings

    from skeeg2bold import make_windows
    from skeeg2bold.datasets import source_recordings

    sim = simulate_eeg_fmri(
        n_subjects=2, duration=40.0, sfreq=100.0, eeg_noise=0.0, artifacts=False, random_state=3
    )
    sources = source_recordings(sim)
    for rec, src, gt in zip(sim.recordings, sources, sim.truth):
        assert src.ch_names == sim.source_names and src.subject == rec.subject
        assert src.sfreq == gt.sources_sfreq == rec.sfreq  # 100 Hz EEG: no upsampling
        # Without background, sensor noise and artifacts the EEG is the mixed sources.
        np.testing.assert_allclose(
            rec.eeg,
            gt.gain @ (gt.sources.astype(float) * 1e-9),
            rtol=1e-4,
            atol=1e-4 * np.abs(rec.eeg).max(),
        )
        np.testing.assert_array_equal(src.bold, rec.bold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eeg = make_windows(sim.recordings, window=5.0)
        src = make_windows(sources, window=5.0)
    np.testing.assert_allclose(src.X.times, eeg.X.times)
    np.testing.assert_array_equal(src.groups, eeg.groups)


def test_source_recordings_without_deep_sources_keep_the_cortical_ones():
    from skeeg2bold.datasets import source_recordings

    sim = simulate_eeg_fmri(
        n_subjects=1, duration=40.0, sfreq=100.0, eeg_noise=0.0, artifacts=False, random_state=3
    )
    rec, gt = sim.recordings[0], sim.truth[0]
    cortical = source_recordings(sim, deep=False)[0]
    deep_names = ["thalamus-L", "thalamus-R", "mesiotemporal-L", "mesiotemporal-R"]
    assert cortical.ch_names == [n for n in sim.source_names if n not in deep_names]
    is_cortical = np.isin(sim.source_names, cortical.ch_names)
    np.testing.assert_array_equal(cortical.eeg, gt.sources[is_cortical])
    np.testing.assert_array_equal(cortical.bold, rec.bold)
    # What the cortical sources leave of the EEG is the mixed deep sources.
    deep_part = gt.gain[:, ~is_cortical] @ (gt.sources[~is_cortical].astype(float) * 1e-9)
    np.testing.assert_allclose(
        rec.eeg - gt.gain[:, is_cortical] @ (cortical.eeg.astype(float) * 1e-9),
        deep_part,
        rtol=1e-3,
        atol=1e-4 * np.abs(rec.eeg).max(),
    )
    with pytest.raises(TypeError, match="deep"):
        source_recordings(sim, deep="no")
