"""One subject's simultaneous EEG-fMRI run."""

import numpy as np

from ._validation import check_finite, check_names, check_positive, check_real_array

__all__ = ["Recording", "volume_onsets_from_markers"]


class Recording:
    """Continuous EEG, ROI BOLD time series and the volume onsets that align them.

    Parameters
    ----------
    eeg : mne.io.BaseRaw or array-like of shape (n_channels, n_times)
        Continuous EEG. From a Raw, only the EEG channels are kept by default
        (see ``picks``); the Raw's measurement info, montage included, is kept
        in :attr:`info`. Integer and boolean arrays are stored as float64,
        float16 as float32; float32 and float64 are kept as they are.
    bold : array-like of shape (n_volumes, n_rois)
        BOLD time series, one column per region of interest.
    volume_times : array-like of shape (n_volumes,)
        Onset of every volume in seconds **in the EEG clock** (sample 0 of
        ``eeg`` is time 0). Strictly increasing. Never assume a perfect TR:
        carry the measured onsets.
    sfreq : float, default=None
        EEG sampling rate in Hz. Required for an array, taken from a Raw.
    ch_names : list of str, default=None
        EEG channel names. Required for an array, taken from a Raw.
    roi_names : list of str, default=None
        ROI names; ``"roi0", "roi1", ...`` if omitted.
    subject : str, default="sub-01"
        Subject identifier; windows inherit it as their group.
    montage : str or mne.channels.DigMontage, default=None
        Sensor positions for an array input (e.g. ``"standard_1020"``), used
        by topographic plots.
    picks : str or list, default="eeg"
        Channels taken from a Raw (ignored for arrays).

    Attributes
    ----------
    eeg : ndarray of shape (n_channels, n_times)
    bold : ndarray of shape (n_volumes, n_rois)
    volume_times : ndarray of shape (n_volumes,)
    duration : float
        Length of the EEG in seconds.
    tr : float
        Median interval between volume onsets (the measured repetition time).

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold import Recording
    >>> rec = Recording(np.zeros((2, 1000)), np.zeros((4, 3)),
    ...                 volume_times=[1.0, 2.95, 4.9, 6.85], sfreq=100.0,
    ...                 ch_names=["Cz", "Pz"])
    >>> rec.tr
    1.95
    """

    def __init__(
        self,
        eeg,
        bold,
        volume_times,
        *,
        sfreq=None,
        ch_names=None,
        roi_names=None,
        subject="sub-01",
        montage=None,
        picks="eeg",
    ):
        self._info = None
        if _is_raw(eeg):
            raw = eeg.copy().pick(picks)
            self._info = raw.info
            sfreq_raw = float(raw.info["sfreq"])
            if sfreq is not None and not np.isclose(float(sfreq), sfreq_raw):
                raise ValueError(
                    f"sfreq={sfreq} disagrees with the Raw's sampling rate {sfreq_raw}."
                )
            sfreq = sfreq_raw
            ch_names = list(raw.ch_names)
            eeg = raw.get_data()
        else:
            if sfreq is None:
                raise ValueError("sfreq is required when eeg is an array.")
            if ch_names is None:
                raise ValueError("ch_names is required when eeg is an array.")
        self.sfreq = check_positive(sfreq, "sfreq")
        eeg = check_real_array(eeg, "eeg", dtype=None)
        if eeg.ndim != 2 or 0 in eeg.shape:
            raise ValueError(
                f"eeg must be 2-D (n_channels, n_times) and non-empty, got shape {eeg.shape}."
            )
        if eeg.dtype.kind != "f":
            eeg = eeg.astype(np.float64)
        elif eeg.dtype.itemsize < 4:
            # float16 has 3 significant digits and no scipy filter support.
            eeg = eeg.astype(np.float32)
        self.eeg = check_finite(eeg, "eeg")
        self.ch_names = check_names(ch_names, eeg.shape[0], "ch_names")

        bold = check_real_array(bold, "bold", dtype=np.float64)
        if bold.ndim == 1:
            bold = bold[:, np.newaxis]
        if bold.ndim != 2 or 0 in bold.shape:
            raise ValueError(
                f"bold must be 2-D (n_volumes, n_rois) and non-empty, got shape {bold.shape}."
            )
        self.bold = check_finite(bold, "bold")
        if roi_names is None:
            roi_names = [f"roi{k}" for k in range(bold.shape[1])]
        self.roi_names = check_names(roi_names, bold.shape[1], "roi_names")

        volume_times = check_real_array(volume_times, "volume_times")
        if volume_times.ndim != 1:
            raise ValueError(
                f"volume_times must be 1-D, got shape {volume_times.shape}."
            )
        if volume_times.shape[0] != bold.shape[0]:
            raise ValueError(
                f"volume_times has {volume_times.shape[0]} onsets but bold has "
                f"{bold.shape[0]} volumes; give one onset per volume (see the "
                "readers for the rule applied when markers are missing)."
            )
        check_finite(volume_times, "volume_times")
        if volume_times.size > 1 and np.any(np.diff(volume_times) <= 0):
            bad = int(np.flatnonzero(np.diff(volume_times) <= 0)[0])
            raise ValueError(
                "volume_times must be strictly increasing; onset "
                f"{bad + 1} ({volume_times[bad + 1]:.3f} s) does not follow onset "
                f"{bad} ({volume_times[bad]:.3f} s)."
            )
        self.volume_times = volume_times
        self.subject = str(subject)
        self.montage = montage

    @property
    def n_channels(self):
        return self.eeg.shape[0]

    @property
    def n_volumes(self):
        return self.bold.shape[0]

    @property
    def duration(self):
        return self.eeg.shape[1] / self.sfreq

    @property
    def tr(self):
        if self.volume_times.size < 2:
            return float("nan")
        return float(np.round(np.median(np.diff(self.volume_times)), 6))

    @property
    def info(self):
        """:class:`mne.Info` of the EEG channels, with the montage when known."""
        if self._info is None:
            import mne

            info = mne.create_info(self.ch_names, self.sfreq, ch_types="eeg")
            if self.montage is not None:
                info.set_montage(self.montage, on_missing="warn")
            self._info = info
        return self._info

    def __repr__(self):
        return (
            f"<Recording | subject {self.subject!r}, {self.n_channels} EEG channels "
            f"at {self.sfreq:g} Hz, {self.duration:.1f} s; {self.n_volumes} volumes "
            f"(TR {self.tr:.3f} s) x {self.bold.shape[1]} ROIs>"
        )


def _is_raw(obj):
    try:
        from mne.io import BaseRaw
    except ImportError:  # pragma: no cover - mne is a hard dependency
        return False
    return isinstance(obj, BaseRaw)


def volume_onsets_from_markers(marker_times, n_volumes, *, tr=None):
    """Onset of every volume from scanner markers that may be incomplete.

    Real runs can have fewer volume markers than volumes in the image (the
    CWL data: 143 ``mri`` markers for 146 volumes). The rule applied here,
    everywhere in the package: marker ``k`` is the onset of volume ``k``
    (the markers are the *first* volumes; the scanner stops after the EEG
    recording has stopped), and the onsets of the missing trailing volumes are
    extrapolated with the measured TR (median marker interval). Volumes whose
    extrapolated onset lies past the end of the EEG are later dropped, with a
    count, by :func:`~skeeg2bold.make_windows`. Extra markers beyond
    ``n_volumes`` are discarded.

    Parameters
    ----------
    marker_times : array-like of shape (n_markers,)
        Marker times in seconds, EEG clock; strictly increasing.
    n_volumes : int
        Number of volumes in the BOLD image.
    tr : float, default=None
        TR used to extrapolate; the median marker interval if None.

    Returns
    -------
    onsets : ndarray of shape (n_volumes,)
    n_missing : int
        Volumes without a marker (negative if there were extra markers).
    """
    markers = check_real_array(marker_times, "marker_times")
    if markers.ndim != 1 or markers.size == 0:
        raise ValueError(f"marker_times must be a non-empty 1-D array, got shape {markers.shape}.")
    check_finite(markers, "marker_times")
    if np.any(np.diff(markers) <= 0):
        raise ValueError("marker_times must be strictly increasing.")
    n_volumes = int(n_volumes)
    if n_volumes < 1:
        raise ValueError(f"n_volumes must be >= 1, got {n_volumes}.")
    n_missing = n_volumes - markers.size
    if n_missing <= 0:
        return markers[:n_volumes].copy(), n_missing
    if tr is None:
        if markers.size < 2:
            raise ValueError("tr is required when fewer than two markers are present.")
        tr = float(np.median(np.diff(markers)))
    tr = check_positive(tr, "tr")
    extra = markers[-1] + tr * np.arange(1, n_missing + 1)
    return np.concatenate([markers, extra]), n_missing
