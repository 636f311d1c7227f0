import pickle
import warnings

import mne
import numpy as np
import pytest

from skeeg2bold import (
    DroppedWindowsWarning,
    EEGWindows,
    Recording,
    make_windows,
    volume_onsets_from_markers,
)

SFREQ = 100.0


def _recording(
    n_seconds=60.0,
    n_volumes=28,
    tr=1.95,
    jitter=0.0,
    subject="s1",
    seed=0,
    ch_names=("Cz", "Pz", "Oz"),
    first=0.5,
):
    rng = np.random.default_rng(seed)
    eeg = rng.standard_normal((len(ch_names), int(n_seconds * SFREQ)))
    onsets = first + tr * np.arange(n_volumes) + rng.uniform(-jitter, jitter, n_volumes)
    bold = rng.standard_normal((n_volumes, 2))
    return Recording(
        eeg,
        bold,
        onsets,
        sfreq=SFREQ,
        ch_names=list(ch_names),
        roi_names=["Left Thalamus", "Right Thalamus"],
        subject=subject,
    )


def test_windows_align_with_hand_computed_indices_under_jitter():
    rec = _recording(jitter=0.2, seed=3)
    with pytest.warns(DroppedWindowsWarning, match="before the EEG"):
        data = make_windows(rec, window=5.0)
    n_times = 500
    expected = [
        (int(round(t * SFREQ)) - n_times, k)
        for k, t in enumerate(rec.volume_times)
        if int(round(t * SFREQ)) - n_times >= 0 and int(round(t * SFREQ)) <= rec.eeg.shape[1]
    ]
    assert len(data.X) == len(expected)
    for i, (start, vol) in enumerate(expected):
        np.testing.assert_array_equal(data.X[i], rec.eeg[:, start : start + n_times])
        np.testing.assert_array_equal(data.y[i], rec.bold[vol])
        assert data.bold_times[i] == rec.volume_times[vol]
        assert data.times[i] == pytest.approx((start + n_times) / SFREQ)
    assert data.X.shape == (len(expected), 3, n_times)
    assert list(data.groups) == ["s1"] * len(expected)


def test_missing_last_marker_is_extrapolated_and_windows_follow():
    rec = _recording(seed=1)
    markers = rec.volume_times[:-1]  # the scanner's last marker is missing
    onsets, report = volume_onsets_from_markers(markers, rec.n_volumes)
    assert report.extrapolated == (rec.n_volumes - 1,)
    assert report.tr == pytest.approx(np.median(np.diff(markers)), rel=1e-3)
    assert onsets[-1] == pytest.approx(markers[-1] + report.tr)
    rec2 = Recording(rec.eeg, rec.bold, onsets, sfreq=SFREQ, ch_names=rec.ch_names)
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows(rec2, window=5.0)
    last_stop = int(round(onsets[-1] * SFREQ))
    np.testing.assert_array_equal(data.X[-1], rec.eeg[:, last_stop - 500 : last_stop])
    np.testing.assert_array_equal(data.y[-1], rec.bold[-1])


def test_volumes_after_eeg_end_are_dropped_with_count():
    rec = _recording(n_seconds=40.0, n_volumes=28)  # last volumes after the EEG ends
    with pytest.warns(DroppedWindowsWarning, match=r"\d+ after the EEG ends") as record:
        data = make_windows(rec, window=5.0)
    n_late = int(np.sum(np.round(rec.volume_times * SFREQ) > 4000))
    assert f"{n_late} after the EEG ends" in str(record[0].message)
    assert data.times.max() <= 40.0


def test_windows_share_memory_with_continuous_eeg():
    rec = _recording()
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows(rec, window=5.0)
    assert isinstance(data.X, EEGWindows)
    assert np.shares_memory(data.X[0], rec.eeg)
    assert np.shares_memory(data.X[len(data.X) - 1], rec.eeg)
    sub = data.X[np.array([0, 2, 4])]  # what sklearn's CV indexing does
    assert isinstance(sub, EEGWindows) and np.shares_memory(sub[1], rec.eeg)
    np.testing.assert_array_equal(sub.times, data.times[[0, 2, 4]])
    np.testing.assert_array_equal(np.asarray(sub), np.asarray(data.X)[[0, 2, 4]])
    np.testing.assert_array_equal(data.X[1:3, ...][0], data.X[1])
    np.testing.assert_array_equal(data.X[np.array([1, 2]), 0], np.asarray(data.X)[[1, 2], 0])
    restored = pickle.loads(pickle.dumps(sub))
    np.testing.assert_array_equal(np.asarray(restored), np.asarray(sub))


def test_step_interpolates_bold_and_shift_moves_the_window():
    rec = _recording(seed=2)
    with pytest.warns(DroppedWindowsWarning):
        fine = make_windows(rec, window=5.0, step=0.5)
    assert np.allclose(np.diff(fine.bold_times), 0.5)
    for k in range(2):
        np.testing.assert_allclose(
            fine.y[:, k], np.interp(fine.bold_times, rec.volume_times, rec.bold[:, k])
        )
    with pytest.warns(DroppedWindowsWarning):
        shifted = make_windows(rec, window=5.0, shift=2.0)
    np.testing.assert_allclose(shifted.times, np.round((shifted.bold_times - 2.0) * SFREQ) / SFREQ)


def test_resampling_and_raw_input():
    rec = _recording()
    info = mne.create_info(rec.ch_names + ["EOG"], SFREQ, ["eeg"] * 3 + ["eog"])
    raw = mne.io.RawArray(np.vstack([rec.eeg, np.zeros(rec.eeg.shape[1])]), info, verbose=False)
    from_raw = Recording(raw, rec.bold, rec.volume_times, subject="s1")
    assert from_raw.ch_names == rec.ch_names  # the EOG channel is not EEG
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows(from_raw, window=5.0, sfreq=50.0, dtype="float32")
    assert data.sfreq == 50.0 and data.X.shape[2] == 250 and data.X.dtype == np.float32
    assert data.info["sfreq"] == 50.0


@pytest.mark.parametrize(
    "sfreq, match",
    [
        (1e9, "only be downsampled"),
        (2 * SFREQ, "only be downsampled"),
        (SFREQ / 1000.5, "cannot be reached exactly"),
    ],
)
def test_resampling_rejects_unreachable_rates(sfreq, match):
    with pytest.raises(ValueError, match=f"sfreq=.*{match}"):
        make_windows(_recording(), window=5.0, sfreq=sfreq)


def test_multiple_subjects_and_channel_mismatch():
    a, b = _recording(subject="a"), _recording(subject="b", seed=5)
    with pytest.warns(DroppedWindowsWarning):
        data = make_windows([a, b], window=5.0)
    assert set(data.groups) == {"a", "b"}
    assert np.shares_memory(data.X[len(data.X) - 1], b.eeg)
    c = _recording(subject="c", ch_names=("Cz", "Pz", "O1"))
    with pytest.raises(ValueError, match="other EEG channels.*O1"):
        make_windows([a, c], window=5.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eeg=np.full((3, 1000), np.nan)), "eeg contains"),
        (dict(bold=np.array([[np.inf, 0.0]] * 28)), "bold contains"),
        (dict(volume_times=np.r_[np.arange(27.0), 25.5]), "strictly increasing"),
        (dict(volume_times=np.arange(27.0)), "27 onsets but bold has 28"),
        (dict(ch_names=["Cz", "Pz"]), "ch_names has 2 entries"),
        (dict(sfreq=-1.0), "sfreq must be"),
    ],
)
def test_recording_rejects_bad_input(kwargs, match):
    rng = np.random.default_rng(0)
    args = dict(
        eeg=rng.standard_normal((3, 1000)),
        bold=np.zeros((28, 2)),
        volume_times=np.arange(28.0),
        sfreq=SFREQ,
        ch_names=["Cz", "Pz", "Oz"],
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Recording(args.pop("eeg"), args.pop("bold"), args.pop("volume_times"), **args)


def test_window_longer_than_recording():
    rec = _recording(n_seconds=4.0)
    with pytest.raises(ValueError, match="longer than the EEG"):
        make_windows(rec, window=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="window must be"):
            make_windows(rec, window=0.0)


def test_from_array_labels_unlabelled_windows_unknown_and_labels_as_text():
    from skeeg2bold._validation import UNKNOWN_SUBJECT

    x = np.zeros((4, 2, 10))
    unlabelled = EEGWindows.from_array(x, sfreq=10.0, ch_names=["a", "b"])
    np.testing.assert_array_equal(unlabelled.groups, [UNKNOWN_SUBJECT] * 4)
    np.testing.assert_array_equal(unlabelled[[0, 2]].groups, [UNKNOWN_SUBJECT] * 2)
    mixed = np.array([1, "1", 2.0, np.int64(2)], dtype=object)
    labelled = EEGWindows.from_array(x, sfreq=10.0, ch_names=["a", "b"], groups=mixed)
    np.testing.assert_array_equal(labelled.groups, ["1", "1", "2", "2"])
    with pytest.raises(ValueError, match="missing subject label"):
        EEGWindows.from_array(x, sfreq=10.0, ch_names=["a", "b"], groups=[1, None, 2, 2])
    with pytest.raises(ValueError, match="one subject per window"):
        EEGWindows.from_array(x, sfreq=10.0, ch_names=["a", "b"], groups=[1, 2])
