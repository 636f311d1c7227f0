import mne
import numpy as np
import pytest

from skeeg2bold import Recording, make_windows
from skeeg2bold.io import (
    SUBCORTICAL_ROIS,
    BOLDRoiTargets,
    VolumeMarkerWarning,
    cwl_paths,
    make_toy_atlas,
    read_cwl,
    write_cwl,
)

from _helpers import column_corr

CH_NAMES = ["Fp1", "Fz", "Cz", "Pz", "O1", "TP9", "POz"]
N_VOLUMES = 20
TR = 1.95


def _recording(subject="trio1", seed=0):
    rng = np.random.default_rng(seed)
    sfreq, duration = 1000.0, 42.0
    eeg = 1e-5 * rng.standard_normal((len(CH_NAMES), int(sfreq * duration)))
    volume_times = 1.0 + TR * np.arange(N_VOLUMES) + rng.uniform(0, 0.01, N_VOLUMES)
    bold = rng.standard_normal((N_VOLUMES, 14))
    return Recording(
        eeg, bold, volume_times, sfreq=sfreq, ch_names=CH_NAMES,
        roi_names=SUBCORTICAL_ROIS, subject=subject, montage="colin27_1020",
    )  # fmt: skip


def _exact_targets(atlas):
    """ROI means as written: no detrending or scaling."""
    return BOLDRoiTargets(atlas=atlas, detrend=False, standardize=None)


def test_cwl_paths_follow_the_published_layout(tmp_path):
    paths = cwl_paths(tmp_path, "verio5", pump="on")
    assert paths.eeg.relative_to(tmp_path).as_posix() == (
        "eeg/in-scan/verio5_mrcorrected_eoec_in-scan_hpump-on.set"
    )
    assert paths.bold.relative_to(tmp_path).as_posix() == (
        "mri/epi_normalized/rwaverio5_eoec_in-scan_hpump-on.nii"
    )
    assert paths.motion.relative_to(tmp_path).as_posix() == (
        "mri/epi_motionparams/rp_averio5_eoec_in-scan_hpump-on.txt"
    )
    with pytest.raises(ValueError, match="pump must be one of"):
        cwl_paths(tmp_path, "trio1", pump="maybe")
    with pytest.raises(ValueError, match="plain name"):
        cwl_paths(tmp_path, "../trio1")


def test_round_trip_with_missing_markers(tmp_path):
    rec = _recording()
    atlas = make_toy_atlas()
    write_cwl(rec, tmp_path, atlas=atlas, n_missing_markers=3, noise=0.5, random_state=0)
    with pytest.warns(VolumeMarkerWarning, match="17 'mri' markers for 20 volumes"):
        back, raw = read_cwl(tmp_path, "trio1", bold_targets=_exact_targets(atlas), return_raw=True)
    # EEG to float32 precision, EEG channels only in the Recording.
    assert back.ch_names == CH_NAMES and back.sfreq == rec.sfreq
    np.testing.assert_allclose(back.eeg, rec.eeg, atol=1e-6 * np.abs(rec.eeg).max())
    # The non-EEG channels stay available in the Raw, typed.
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    assert types["EOG"] == "eog" and types["ECG"] == "ecg" and types["CW3"] == "misc"
    # Onsets: 17 markers to the sample, 3 extrapolated with the measured TR.
    np.testing.assert_allclose(back.volume_times[:17], rec.volume_times[:17], atol=1e-3)
    step = np.median(np.diff(rec.volume_times[:17]))
    np.testing.assert_allclose(np.diff(back.volume_times[16:]), step, atol=1e-3)
    # ROI means are the planted signals (noise averaged over each ROI's voxels).
    assert back.roi_names == list(SUBCORTICAL_ROIS)
    assert np.all(column_corr(back.bold, rec.bold) > 0.99)
    # Montage attached: Cz has a position.
    assert np.all(np.isfinite(back.info.get_montage().get_positions()["ch_pos"]["Cz"]))


def test_motion_parameters_are_regressed_out(tmp_path):
    rec = _recording()
    motion = np.zeros((N_VOLUMES, 6))
    motion[:, 0] = np.random.default_rng(1).standard_normal(N_VOLUMES)
    bold = rec.bold.copy()
    bold[:, 0] += 2.0 * motion[:, 0]
    rec = Recording(rec.eeg, bold, rec.volume_times, sfreq=rec.sfreq, ch_names=CH_NAMES,
                    roi_names=SUBCORTICAL_ROIS, subject="trio1")  # fmt: skip
    atlas = make_toy_atlas()
    write_cwl(rec, tmp_path, atlas=atlas, motion=motion)
    targets = BOLDRoiTargets(atlas=atlas, detrend=False)
    with_motion = read_cwl(tmp_path, "trio1", bold_targets=targets)
    without = read_cwl(tmp_path, "trio1", bold_targets=targets, motion=False)
    assert abs(np.corrcoef(with_motion.bold[:, 0], motion[:, 0])[0, 1]) < 1e-6
    assert np.corrcoef(without.bold[:, 0], motion[:, 0])[0, 1] > 0.5
    # The other ROIs barely change.
    assert np.all(column_corr(with_motion.bold[:, 1:], without.bold[:, 1:]) > 0.8)


def test_clear_errors(tmp_path):
    rec = _recording()
    atlas = make_toy_atlas()
    with pytest.raises(FileNotFoundError, match=r"expected .*trio1_mrcorrected_eoec"):
        read_cwl(tmp_path, "trio1")
    paths = write_cwl(rec, tmp_path, atlas=atlas)[0]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_cwl(rec, tmp_path, atlas=atlas)
    paths.motion.unlink()
    with pytest.raises(FileNotFoundError, match="rp_atrio1_eoec_in-scan_hpump-off.txt"):
        read_cwl(tmp_path, "trio1", bold_targets=_exact_targets(atlas))
    assert read_cwl(tmp_path, "trio1", bold_targets=_exact_targets(atlas), motion=False)
    # An EEG file without volume markers.
    raw = mne.io.read_raw_eeglab(paths.eeg, preload=True, verbose="error")
    raw.set_annotations(mne.Annotations([1.0], 0.0, "eyes closed"))
    mne.export.export_raw(paths.eeg, raw, fmt="eeglab", overwrite=True, verbose="error")
    with pytest.raises(ValueError, match=r"No volume markers \['mri'\].*eyes closed"):
        read_cwl(tmp_path, "trio1", motion=False, bold_targets=_exact_targets(atlas))
    with pytest.raises(TypeError, match="bold_targets must be a BOLDRoiTargets"):
        read_cwl(tmp_path, "trio1", motion=False, bold_targets="harvard-oxford",
                 volume_marker="eyes closed")  # fmt: skip


def test_writer_argument_checks(tmp_path):
    rec = _recording()
    with pytest.raises(ValueError, match=r"motion for 'trio1' must have shape \(20, 6\)"):
        write_cwl(rec, tmp_path, atlas=make_toy_atlas(), motion=np.zeros((20, 3)))
    with pytest.raises(ValueError, match="Subjects must be unique"):
        write_cwl([rec, rec], tmp_path, atlas=make_toy_atlas())
    with pytest.raises(ValueError, match="no voxel in the output grid"):
        write_cwl(rec, tmp_path, atlas=make_toy_atlas(), shape=(3, 3, 3),
                  affine=np.diag([30.0, 30.0, 30.0, 1.0]))  # fmt: skip


@pytest.mark.filterwarnings("ignore::skeeg2bold.DroppedWindowsWarning")
def test_simulator_to_files_to_ridge_baseline(tmp_path):
    """simulate -> CWL files -> read_cwl -> make_windows -> ridge baseline.

    Noise-free writing: what is read back is what was simulated, so the
    baseline trained on the files predicts exactly what it predicts from the
    simulated recordings.
    """
    from skeeg2bold.baselines import make_ridge_baseline
    from skeeg2bold.datasets import simulate_eeg_fmri
    from skeeg2bold.metrics import pearson_r

    sim = simulate_eeg_fmri(n_subjects=2, duration=70.0, random_state=0)
    sim.recordings[0].subject, sim.recordings[1].subject = "trio1", "trio2"
    atlas = make_toy_atlas()
    write_cwl(sim, tmp_path, atlas=atlas)
    read = [read_cwl(tmp_path, s, bold_targets=_exact_targets(atlas)) for s in ("trio1", "trio2")]
    for original, back in zip(sim.recordings, read):
        # The writer adds the percent signal change to a baseline of 100.
        np.testing.assert_allclose(back.bold - 100.0, original.bold, atol=1e-4)
        np.testing.assert_allclose(back.volume_times, original.volume_times, atol=1e-3)

    predictions = []
    for recordings in (sim.recordings, read):
        train, test = (make_windows([r], window=10.0) for r in recordings)
        model = make_ridge_baseline(bands={"alpha": (8, 13), "beta": (13, 30)})
        predictions.append(model.fit(train.X, train.y).predict(test.X))
    assert predictions[0].shape == (test.y.shape[0], 14)
    np.testing.assert_allclose(predictions[1] - 100.0, predictions[0], atol=1e-3)
    assert np.all(np.isfinite(pearson_r(test.y, predictions[1])))
