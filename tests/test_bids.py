import mne
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from skeeg2bold.io import (
    SUBCORTICAL_ROIS,
    BOLDRoiTargets,
    VolumeMarkerWarning,
    make_toy_atlas,
    read_bids,
)

from _helpers import column_corr

mne_bids = pytest.importorskip("mne_bids")

SFREQ = 250.0
N_VOLUMES = 15
TR = 2.0
MOTION = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]


def _write_run(root, *, run="01", marker="R128", n_markers=N_VOLUMES, seed=0):
    """One BIDS run: EEGLAB EEG with volume triggers and fMRIPrep-style outputs."""
    rng = np.random.default_rng(seed)
    names, types = ["Fp1", "Fz", "Cz", "Pz", "ECG"], ["eeg"] * 4 + ["ecg"]
    raw = mne.io.RawArray(
        1e-5 * rng.standard_normal((5, int(34 * SFREQ))),
        mne.create_info(names, SFREQ, types),
        verbose="error",
    )
    onsets = 1.0 + TR * np.arange(N_VOLUMES)
    raw.set_annotations(mne.Annotations(onsets[:n_markers], 0.0, marker))
    path = mne_bids.BIDSPath(subject="01", task="rest", run=run, datatype="eeg", root=root)
    mne_bids.write_raw_bids(raw, path, format="EEGLAB", allow_preload=True, verbose="error")

    atlas = make_toy_atlas()
    labels = np.asarray(atlas.maps.dataobj)
    bold = rng.standard_normal((N_VOLUMES, 14))
    # One moving parameter: six random regressors would take 6 of the 15
    # volumes' degrees of freedom.
    motion = np.zeros((N_VOLUMES, 6))
    motion[:, 0] = rng.standard_normal(N_VOLUMES)
    data = np.full(labels.shape + (N_VOLUMES,), 100.0, dtype=np.float32)
    for k in range(14):
        data[labels == k + 1] += bold[:, k] + 2.0 * motion[:, 0]
    img = nib.Nifti1Image(data, atlas.maps.affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((6.0, 6.0, 6.0, TR))
    base = f"sub-01_task-rest_run-{run}"
    func = root / "sub-01" / "func"
    func.mkdir(parents=True, exist_ok=True)
    nib.save(img, func / f"{base}_bold.nii.gz")
    deriv = root / "derivatives" / "fmriprep" / "sub-01" / "func"
    deriv.mkdir(parents=True, exist_ok=True)
    nib.save(img, deriv / f"{base}_space-MNI152NLin6Asym_desc-preproc_bold.nii.gz")
    table = pd.DataFrame(motion, columns=MOTION)
    table["framewise_displacement"] = np.r_[np.nan, np.ones(N_VOLUMES - 1)]
    table.to_csv(deriv / f"{base}_desc-confounds_timeseries.tsv", sep="\t", index=False)
    return dict(bold=bold, motion=motion, onsets=onsets, atlas=atlas)


def test_read_bids_eeg_and_fmriprep_bold(tmp_path):
    truth = _write_run(tmp_path)
    targets = BOLDRoiTargets(atlas=truth["atlas"], detrend=False)
    rec, raw = read_bids(
        tmp_path, "01", "rest", space="MNI152NLin6Asym", bold_targets=targets,
        return_raw=True,
    )  # fmt: skip
    assert rec.subject == "sub-01" and rec.ch_names == ["Fp1", "Fz", "Cz", "Pz"]
    assert "ECG" in raw.ch_names and rec.roi_names == list(SUBCORTICAL_ROIS)
    np.testing.assert_allclose(rec.volume_times, truth["onsets"], atol=1.0 / SFREQ)
    # The motion columns are regressed out by default, which removes the
    # motion planted in every ROI: what is left is the ROI signal's own part
    # orthogonal to the motion.
    design = np.column_stack([np.ones(N_VOLUMES), truth["motion"][:, 0]])
    own = truth["bold"] - design @ np.linalg.lstsq(design, truth["bold"], rcond=None)[0]
    assert np.all(column_corr(rec.bold, own) > 0.999)
    raw_bold = read_bids(tmp_path, "01", "rest", space="MNI152NLin6Asym",
                         bold_targets=targets, confounds=None)  # fmt: skip
    assert np.mean(column_corr(raw_bold.bold, truth["bold"])) < np.mean(
        column_corr(rec.bold, truth["bold"])
    )
    # Other fMRIPrep columns can be added; empty first rows become 0 with a warning.
    with pytest.warns(UserWarning, match="1 empty confound value"):
        read_bids(tmp_path, "01", "rest", space="MNI152NLin6Asym", bold_targets=targets,
                  confounds=MOTION + ["framewise_displacement"])  # fmt: skip


def test_read_bids_raw_func_bold_and_marker_choice(tmp_path):
    truth = _write_run(tmp_path, marker="Volume", n_markers=N_VOLUMES - 2)
    targets = BOLDRoiTargets(atlas=truth["atlas"])
    with pytest.warns(VolumeMarkerWarning, match="13 'Volume' markers for 15 volumes"):
        rec = read_bids(tmp_path, "01", "rest", run="01", bold_targets=targets)
    np.testing.assert_allclose(rec.volume_times, truth["onsets"], atol=1.0 / SFREQ)
    with pytest.raises(ValueError, match=r"No volume markers \['R128'\].*Volume"):
        read_bids(tmp_path, "01", "rest", bold_targets=targets, volume_marker="R128")


def test_read_bids_clear_errors(tmp_path):
    truth = _write_run(tmp_path)
    targets = BOLDRoiTargets(atlas=truth["atlas"])
    with pytest.raises(FileNotFoundError, match="No EEG file matches .*sub-02"):
        read_bids(tmp_path, "02", "rest", bold_targets=targets)
    with pytest.raises(FileNotFoundError, match="No BOLD file matches .*space-T1w"):
        read_bids(tmp_path, "01", "rest", space="T1w", bold_targets=targets)
    with pytest.raises(ValueError, match=r"Columns \['csf'\] are not in"):
        read_bids(tmp_path, "01", "rest", space="MNI152NLin6Asym", bold_targets=targets,
                  confounds=["csf"])  # fmt: skip
    _write_run(tmp_path, run="02", seed=1)
    with pytest.raises(ValueError, match="2 EEG files match; give run="):
        read_bids(tmp_path, "01", "rest", bold_targets=targets)
    rec = read_bids(tmp_path, "01", "rest", run="02", bold_targets=targets)
    assert rec.n_volumes == N_VOLUMES
