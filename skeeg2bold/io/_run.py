"""From one run's EEG and BOLD files to a Recording: the steps every reader shares."""

import re
import warnings

import numpy as np
from sklearn.base import clone

from .._recording import Recording, volume_onsets_from_markers
from ._bold_roi import BOLDRoiTargets, _load_4d, t_r_from_header

__all__ = ["VolumeMarkerWarning", "marker_times", "recording_from_run"]

# Channel types of the non-EEG channels of the CWL recordings, by name.
_CHANNEL_TYPES = (
    (re.compile(r"^(h|v)?eog", re.IGNORECASE), "eog"),
    (re.compile(r"^(ecg|ekg)", re.IGNORECASE), "ecg"),
    (re.compile(r"^cw\d+$", re.IGNORECASE), "misc"),
)


class VolumeMarkerWarning(UserWarning):
    """Volume markers were repaired: repeats or off-grid markers dropped, or
    onsets of volumes without a marker interpolated or extrapolated."""


def recording_from_run(
    raw,
    bold_img,
    *,
    subject,
    confounds,
    bold_targets,
    volume_marker,
    montage,
    return_raw,
    run_name,
):
    """Align a run's EEG (with volume markers) and its 4-D BOLD image.

    Sets the non-EEG channel types and the montage on ``raw`` (in place),
    matches the markers to the volumes (:func:`volume_onsets_from_markers`,
    checked against the header's TR; a warning lists the repairs, which the
    Recording keeps in ``marker_report``) and takes the ROI signals with
    ``bold_targets`` (a copy; the measured TR is set when its ``t_r`` is None).
    The EOG, ECG and carbon-wire channels go to ``Recording.aux``.
    """
    if bold_targets is None:
        targets = BOLDRoiTargets()
    elif isinstance(bold_targets, BOLDRoiTargets):
        targets = clone(bold_targets)
    else:
        raise TypeError(
            f"bold_targets must be a BOLDRoiTargets, got {type(bold_targets).__name__}."
        )
    raw.set_channel_types(_non_eeg_types(raw), verbose="error")
    _set_montage(raw, montage)
    markers = marker_times(raw, volume_marker)

    img = _load_4d(bold_img)
    n_volumes = img.shape[3]
    try:
        onsets, report = volume_onsets_from_markers(markers, n_volumes, header_tr=_header_tr(img))
    except ValueError as err:
        raise ValueError(
            f"{run_name}: {markers.size} {volume_marker!r} markers for {n_volumes} volumes "
            f"(EEG at {raw.info['sfreq']:g} Hz): {err}"
        ) from None
    if report.repaired:
        warnings.warn(
            f"{run_name}: {markers.size} {volume_marker!r} markers for {n_volumes} "
            f"volumes in the BOLD image; {report.summary()} (Recording.marker_report).",
            VolumeMarkerWarning,
            stacklevel=3,
        )

    if targets.t_r is None:
        targets.set_params(t_r=report.tr)
    bold = targets.fit_transform(img, confounds=confounds)

    recording = Recording(
        raw,
        bold,
        onsets,
        roi_names=targets.roi_names_,
        subject=subject,
        picks="eeg",
        marker_report=report,
        aux=_aux_channels(raw),
    )
    return (recording, raw) if return_raw else recording


def _aux_channels(raw):
    """The EOG, ECG and carbon-wire (``misc``) channels of ``raw``, by name."""
    kinds = raw.get_channel_types()
    names = [n for n, kind in zip(raw.ch_names, kinds) if kind in ("eog", "ecg", "misc")]
    if not names:
        return None
    data = raw.get_data(picks=names)
    return dict(zip(names, data))


def _header_tr(img):
    """The header's TR in seconds, or None when the header has no usable one."""
    try:
        return t_r_from_header(img)
    except ValueError:
        return None


def marker_times(raw, description):
    """Onsets (s, from the first sample) of the annotations named ``description``.

    Parameters
    ----------
    raw : mne.io.Raw
    description : str or sequence of str
        Annotation description(s) that mark volumes.

    Returns
    -------
    times : ndarray of shape (n_markers,)
    """
    wanted = (description,) if isinstance(description, str) else tuple(description)
    annotations = raw.annotations
    keep = np.isin(annotations.description, wanted)
    if not keep.any():
        found = sorted(set(annotations.description))
        raise ValueError(
            f"No volume markers {list(wanted)} among the annotations of the EEG "
            f"(found {found[:20]}); set the marker name that your scanner trigger uses."
        )
    # Annotation onsets count from the measurement start, the first sample
    # from raw.first_time: their difference is the time in the EEG clock.
    times = np.sort(annotations.onset[keep]) - raw.first_time
    # Duplicated markers (e.g. a trigger written on two event channels) are
    # one volume.
    return np.unique(np.round(times, 6))


def _non_eeg_types(raw):
    """Types of the channels that are called EEG but are EOG, ECG or CW loops."""
    types = {}
    eeg = [n for n, kind in zip(raw.ch_names, raw.get_channel_types()) if kind == "eeg"]
    for name in eeg:
        for pattern, kind in _CHANNEL_TYPES:
            if pattern.match(name):
                types[name] = kind
                break
    return types


def _set_montage(raw, montage):
    if montage is None:
        return
    if isinstance(montage, str) and montage == "auto":
        if _has_positions(raw):
            return
        montage = _standard_montage_name()
    raw.set_montage(montage, on_missing="warn", match_case=False)


def _has_positions(raw):
    """Whether the file gives a position to any EEG channel.

    EEGLAB files with empty electrode locations read as a montage whose
    positions are all NaN: that is no montage.
    """
    montage = raw.get_montage()
    if montage is None:
        return False
    positions = montage.get_positions()["ch_pos"]
    eeg = [n for n, kind in zip(raw.ch_names, raw.get_channel_types()) if kind == "eeg"]
    return any(np.all(np.isfinite(positions[n])) for n in eeg if n in positions)


def _standard_montage_name():
    import mne

    # MNE 1.13 renamed "standard_1020" (same positions) to "colin27_1020".
    builtin = mne.channels.get_builtin_montages()
    return "colin27_1020" if "colin27_1020" in builtin else "standard_1020"
