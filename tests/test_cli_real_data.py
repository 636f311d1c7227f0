"""``skeeg2bold run --data cwl|bids`` end to end on files written in the real formats."""

import json
import warnings
from types import SimpleNamespace

import mne
import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt

from skeeg2bold.cli import main
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.io import fetch_subcortical_atlas, mni_grid, write_cwl
from skeeg2bold.io._layouts import bids_subjects, load_real_data, mni_space
from skeeg2bold.io._write import _atlas_in_grid, _write_bold
from skeeg2bold.preprocessing import CWLRegression

mne_bids = pytest.importorskip("mne_bids")

RUN_ARGS = [
    "--quick",
    "--targets",
    "1",
    "--models",
    "ridge",
    "--chance-repeats",
    "0",
    "--no-figures",
    "--no-progress",
]


@pytest.fixture(scope="module")
def scanner_sim():
    return simulate_eeg_fmri(n_subjects=2, sfreq=100.0, scanner_artifacts=True, random_state=1)


def write_bids(sim, root, *, space="MNI152NLin6Asym", voxel_size=4.0):
    """Each recording as a BIDS run: EEGLAB EEG with its CW and ECG channels
    and R128 volume triggers; the raw func BOLD and fMRIPrep-style BOLD in ``space``."""
    shape, affine = mni_grid(voxel_size)
    atlas = fetch_subcortical_atlas()
    grid = _atlas_in_grid(atlas, shape, affine)
    rng = np.random.default_rng(0)
    for k, rec in enumerate(sim.recordings):
        label = f"{k + 1:02d}"
        names = list(rec.ch_names) + list(rec.aux)
        types = ["eeg"] * rec.n_channels + ["ecg" if n == "ECG" else "misc" for n in rec.aux]
        raw = mne.io.RawArray(
            np.vstack([rec.eeg, *rec.aux.values()]),
            mne.create_info(names, rec.sfreq, types),
            verbose="error",
        )
        onsets = rec.volume_times[rec.volume_times < rec.duration]
        raw.set_annotations(mne.Annotations(onsets, 0.0, "R128"))
        path = mne_bids.BIDSPath(subject=label, task="rest", datatype="eeg", root=root)
        mne_bids.write_raw_bids(raw, path, format="EEGLAB", allow_preload=True, verbose="error")
        func = root / f"sub-{label}" / "func"
        deriv = root / "derivatives" / "fmriprep" / f"sub-{label}" / "func"
        for folder, name in (
            (func, f"sub-{label}_task-rest_bold.nii.gz"),
            (deriv, f"sub-{label}_task-rest_space-{space}_desc-preproc_bold.nii.gz"),
        ):
            folder.mkdir(parents=True, exist_ok=True)
            _write_bold(rec, folder / name, grid, atlas["labels"], 100.0, 0.0, rng)


@pytest.fixture(scope="module")
def bids_root(scanner_sim, tmp_path_factory):
    root = tmp_path_factory.mktemp("bids")
    write_bids(scanner_sim, root)
    return root


def _summary(out):
    return json.loads((out / "results.json").read_text())["summary"]


def test_run_on_cwl_files_cleans_the_loops_by_default(tmp_path, scanner_sim):
    write_cwl(scanner_sim, tmp_path / "cwl", n_missing_markers=3, random_state=0)
    args = SimpleNamespace(data="cwl", root=tmp_path / "cwl", subjects=["sub-01"], pump="off")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (cleaned,) = load_real_data(args)
        args.no_cwl_regression = True
        (raw,) = load_real_data(args)
    sos = butter(4, [1.0, 45.0], btype="band", fs=100.0, output="sos")
    truth = sosfiltfilt(sos, scanner_sim.truth[0].eeg_clean, axis=1)

    def r(x):
        x = sosfiltfilt(sos, x, axis=1)
        return np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(x, truth)])

    # The files' EEG is the artefact EEG; the default reading cleans it with
    # the default CWLRegression on the file's CW1-CW6.
    np.testing.assert_allclose(raw.eeg, scanner_sim.recordings[0].eeg, atol=1e-9)
    assert sorted(raw.aux) == ["CW1", "CW2", "CW3", "CW4", "CW5", "CW6", "ECG", "EOG"]
    np.testing.assert_array_equal(cleaned.eeg, CWLRegression().transform(raw).eeg)
    assert r(cleaned.eeg) > max(r(raw.eeg) + 0.02, 0.95)

    out = tmp_path / "report"
    argv = ["run", "--data", "cwl", "--root", str(tmp_path / "cwl"), "--subjects", "sub-01"]
    assert main([*argv, "sub-02", *RUN_ARGS, "--out", str(out)]) == 0
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.subject.unique()) == ["sub-02"] and len(scores) == 15
    assert _summary(out)["mean over targets"]["ridge mean"] > 0.05


def test_flat_loops_name_the_flag(tmp_path, capsys):
    sim = simulate_eeg_fmri(n_subjects=1, duration=60.0, sfreq=100.0, random_state=0)
    write_cwl(sim, tmp_path, random_state=0)  # loops written flat
    argv = ["run", "--data", "cwl", "--root", str(tmp_path), "--subjects", "sub-01"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "['CW1', 'CW2', 'CW3', 'CW4', 'CW5', 'CW6']" in err and "flat" in err
    assert "--no-cwl-regression" in err


def test_run_on_bids_fmriprep_files(tmp_path, scanner_sim, bids_root):
    assert bids_subjects(bids_root) == ["01", "02"]
    assert mni_space(bids_root, "01", "rest") == "MNI152NLin6Asym"
    out = tmp_path / "report"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # MNI found: no space warning
        warnings.filterwarnings("ignore", message=".*(?i:marker|mne_bids|BIDS).*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        code = main(
            ["run", "--data", "bids", "--root", str(bids_root), *RUN_ARGS, "--out", str(out)]
        )
    assert code == 0
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.subject.unique()) == ["sub-02"]
    assert _summary(out)["mean over targets"]["ridge mean"] > 0.05
    # The runs carry CW channels: cleaned, unless asked not to.
    args = SimpleNamespace(data="bids", root=bids_root, subjects=["01"], task="rest")
    cleaned = load_real_data(args)[0].eeg
    args.no_cwl_regression = True
    raw = load_real_data(args)[0].eeg
    np.testing.assert_allclose(raw, scanner_sim.recordings[0].eeg, atol=1e-9)
    assert not np.allclose(cleaned, raw)


def test_bids_options_and_errors(tmp_path, capsys, bids_root):
    # No fMRIPrep output where --derivatives points: the raw func BOLD, with a warning.
    args = SimpleNamespace(
        data="bids", root=bids_root, subjects=None, task="rest", derivatives="elsewhere",
        no_cwl_regression=True,
    )  # fmt: skip
    with pytest.warns(UserWarning, match="sub-01: the BOLD read is the raw func BOLD.*not in MNI"):
        recs = load_real_data(args)
    assert [r.subject for r in recs] == ["sub-01", "sub-02"]
    args.derivatives, args.subjects, args.space = None, ["sub-01"], "T1w"
    with (
        pytest.warns(UserWarning, match="--space T1w, not in MNI"),
        pytest.raises(FileNotFoundError, match=r"sub-01 \(--task rest, --space T1w\)"),
    ):
        load_real_data(args)
    argv = ["run", "--data", "bids", "--root", str(bids_root), "--no-progress"]
    with pytest.raises(SystemExit):
        main([*argv, "--session", "7"])
    assert "--session 7" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit):
        main(["run", "--data", "bids", "--root", str(empty), "--no-progress"])
    assert "has no sub-* folder" in capsys.readouterr().err


def test_fit_records_that_the_training_eeg_was_cleaned(tmp_path, scanner_sim):
    from skeeg2bold.persistence import load_model

    write_cwl(scanner_sim, tmp_path / "cwl", random_state=0)
    argv = ["fit", "--data", "cwl", "--root", str(tmp_path / "cwl"), "--subjects", "sub-01"]
    argv += ["sub-02", "--model", "logridge", "--quick", "--no-progress"]
    metadata = {}
    for flag, expected in (([], True), (["--no-cwl-regression"], False)):
        out = tmp_path / f"model{len(flag)}.skops"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main([*argv, *flag, "--out", str(out)]) == 0
        _, metadata = load_model(out, return_metadata=True)
        # The twin cleans a live stream with loops exactly when this is True.
        assert metadata["cwl_regression"] is expected
