"""One subject's simultaneous EEG-fMRI run."""

import dataclasses

import numpy as np

from ._validation import (
    check_finite,
    check_names,
    check_positive,
    check_real_array,
    validate_type,
)

__all__ = ["MarkerReport", "Recording", "volume_onsets_from_markers"]


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
    marker_report : MarkerReport, default=None
        How ``volume_times`` were obtained from scanner markers (what
        :func:`volume_onsets_from_markers` repaired); the readers set it.
    aux : dict of str to array-like of shape (n_times,), default=None
        Non-EEG channels sampled with the EEG (the carbon-wire loops
        ``CW1``-``CW6``, the ECG, the EOG), by name. They are never windowed
        nor fed to a model; preprocessing such as
        :class:`~skeeg2bold.preprocessing.CWLRegression` reads them. The
        readers keep the EOG, ECG and carbon-wire channels of the file here.

    Attributes
    ----------
    eeg : ndarray of shape (n_channels, n_times)
    bold : ndarray of shape (n_volumes, n_rois)
    volume_times : ndarray of shape (n_volumes,)
    duration : float
        Length of the EEG in seconds.
    tr : float
        Median interval between volume onsets (the measured repetition time).
    marker_report : MarkerReport or None
        Duplicated, off-grid and missing volume markers found when the onsets
        were matched to the volumes (None when onsets were given directly).
    aux : dict of str to ndarray of shape (n_times,)
        The auxiliary channels (empty when none were given).

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
        marker_report=None,
        aux=None,
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
            raise ValueError(f"volume_times must be 1-D, got shape {volume_times.shape}.")
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
        if marker_report is not None:
            validate_type(marker_report, MarkerReport, "marker_report")
        self.marker_report = marker_report
        self.aux = _check_aux(aux, self.eeg.shape[1])

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


def _check_aux(aux, n_times):
    """The auxiliary channels as a dict of 1-D float arrays of ``n_times`` samples."""
    if aux is None:
        return {}
    validate_type(aux, dict, "aux", "dict of channel name to 1-D array")
    out = {}
    for name, values in aux.items():
        validate_type(name, str, "aux keys", "str")
        values = check_real_array(values, f"aux[{name!r}]")
        if values.shape != (n_times,):
            raise ValueError(
                f"aux[{name!r}] must have shape ({n_times},), one sample per EEG sample, "
                f"got {values.shape}."
            )
        out[name] = check_finite(values, f"aux[{name!r}]")
    return out


def _is_raw(obj):
    try:
        from mne.io import BaseRaw
    except ImportError:  # pragma: no cover - mne is a hard dependency
        return False
    return isinstance(obj, BaseRaw)


@dataclasses.dataclass(frozen=True)
class MarkerReport:
    """What :func:`volume_onsets_from_markers` found and repaired in a marker train.

    Marker indices count in the train as given (sorted); volume indices count
    in the BOLD image.

    Attributes
    ----------
    n_markers : int
        Markers given.
    n_volumes : int
        Volumes in the BOLD image.
    tr : float
        Repetition time (s) of the volume grid the markers were matched to.
    header_tr : float or None
        TR from the image header, when it was given.
    duplicates : tuple of int
        Markers dropped as repeats of the marker before them (closer to it
        than ``tolerance`` TR).
    spurious : tuple of int
        Markers dropped because they fall between volumes, off the grid.
    interpolated : tuple of int
        Volumes inside the run without a marker; their onsets are
        interpolated between the neighbouring markers.
    extrapolated : tuple of int
        Trailing volumes after the last marker; their onsets are extrapolated
        with ``tr``.
    n_extra : int
        Markers past the last volume of the image, ignored.
    """

    n_markers: int
    n_volumes: int
    tr: float
    header_tr: float | None = None
    duplicates: tuple = ()
    spurious: tuple = ()
    interpolated: tuple = ()
    extrapolated: tuple = ()
    n_extra: int = 0

    @property
    def repaired(self):
        """Whether anything was dropped, interpolated, extrapolated or ignored."""
        return bool(
            self.duplicates
            or self.spurious
            or self.interpolated
            or self.extrapolated
            or self.n_extra
        )

    def summary(self):
        """One sentence listing every repair (empty if none)."""
        parts = []
        for name, items in (
            ("duplicated marker(s) dropped", self.duplicates),
            ("off-grid marker(s) dropped", self.spurious),
            ("volume(s) without a marker inside the run, interpolated", self.interpolated),
            (
                (f"trailing volume(s) without a marker, extrapolated with the TR {self.tr:.4g} s"),
                self.extrapolated,
            ),
        ):
            if items:
                parts.append(f"{len(items)} {name} (at {_short_list(items)})")
        if self.n_extra:
            parts.append(f"{self.n_extra} marker(s) after the last volume ignored")
        return "; ".join(parts)


def _short_list(items, n=6):
    items = list(items)
    return ", ".join(map(str, items[:n])) + (", ..." if len(items) > n else "")


#: Markers may sit this far (in TRs) off the volume grid and still mark a volume.
_GRID_TOLERANCE = 0.2
#: The median marker interval may differ this much (relative) from the header TR.
_HEADER_TR_TOLERANCE = 0.1
#: Largest share of the markers that may be dropped as off-grid before refusing.
_MAX_SPURIOUS_FRACTION = 0.1


def volume_onsets_from_markers(marker_times, n_volumes, *, tr=None, header_tr=None):
    """Onset of every volume from scanner markers that may be glitched.

    The markers are matched to the volume grid: marker intervals of about
    one TR step to the next volume, intervals of about ``k`` TRs skip
    ``k - 1`` volumes whose markers were lost (their onsets are interpolated
    between the neighbours), markers closer than ``0.2`` TR to the previous
    one are repeats of it (dropped), and markers off the grid are spurious
    (dropped; more than 10 % of them, or a train that stays off the grid,
    is refused). The first marker that starts the grid is volume 0, and
    volumes after the last marker (the CWL data: 143 ``mri`` markers for 146
    volumes, the scanner stopping after the EEG) are extrapolated with the
    TR; :func:`~skeeg2bold.make_windows` later drops, with a count, those
    past the end of the EEG. Markers beyond ``n_volumes`` are ignored.

    Parameters
    ----------
    marker_times : array-like of shape (n_markers,)
        Marker times in seconds, EEG clock; strictly increasing.
    n_volumes : int
        Number of volumes in the BOLD image.
    tr : float, default=None
        TR of the volume grid. If None, it is measured: the markers are
        matched to a grid with the median marker interval, and the TR is
        then the least-squares slope of the matched markers against their
        volume numbers (which repeats and gaps do not bias). The measured TR
        can differ from the nominal one: about 1.95 s for a nominal 2 s on
        the CWL scanners.
    header_tr : float, default=None
        TR written in the image header. When given, the median marker
        interval must agree with it within 10 %; a larger difference means
        the EEG sampling rate or the marker name is wrong, and is refused.

    Returns
    -------
    onsets : ndarray of shape (n_volumes,)
    report : MarkerReport
        What was dropped, interpolated and extrapolated (kept by readers on
        :attr:`Recording.marker_report`).

    Raises
    ------
    ValueError
        When the markers disagree with ``header_tr`` or cannot be matched to
        a volume grid.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold import volume_onsets_from_markers
    >>> true = 3.2 + 1.95 * np.arange(8)
    >>> markers = np.r_[true[:3], true[2] + 0.003, true[4:7]]  # a repeat, a gap
    >>> onsets, report = volume_onsets_from_markers(markers, 8)
    >>> np.allclose(onsets, true)
    True
    >>> report.duplicates, report.interpolated, report.extrapolated
    ((3,), (3,), (7,))
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
    header_tr = check_positive(header_tr, "header_tr", allow_none=True)
    estimated = tr is None
    if estimated:
        if markers.size < 2:
            raise ValueError("tr is required when fewer than two markers are present.")
        tr = float(np.median(np.diff(markers)))
    tr = check_positive(tr, "tr")
    if header_tr is not None and abs(tr - header_tr) > _HEADER_TR_TOLERANCE * header_tr:
        raise ValueError(
            f"The volume markers are {tr:.4g} s apart (median) but the image header gives "
            f"a TR of {header_tr:.4g} s. Check the EEG sampling rate (a wrong rate scales "
            "every marker time) and that the marker name marks volumes."
        )
    if markers.size == 1:
        volumes, duplicates, spurious = np.zeros(1, dtype=int), (), ()
    else:
        volumes, duplicates, spurious, slope = _match_grid(markers, tr)
        if estimated:
            # Repeats and gaps bias the median interval of a short train; the
            # slope through the matched markers does not. Match again with it.
            tr = slope
            volumes, duplicates, spurious, tr = _match_grid(markers, tr)
    kept = np.setdiff1d(np.arange(markers.size), duplicates + spurious)
    times = markers[kept]
    n_extra = int(np.count_nonzero(volumes >= n_volumes))
    times, volumes = times[volumes < n_volumes], volumes[volumes < n_volumes]
    grid = np.arange(n_volumes)
    onsets = np.interp(grid, volumes, times)
    after = grid > volumes[-1]
    onsets[after] = times[-1] + tr * (grid[after] - volumes[-1])
    inside = np.setdiff1d(grid[~after], volumes)
    report = MarkerReport(
        n_markers=int(markers.size),
        n_volumes=n_volumes,
        tr=tr,
        header_tr=header_tr,
        duplicates=tuple(int(i) for i in duplicates),
        spurious=tuple(int(i) for i in spurious),
        interpolated=tuple(int(v) for v in inside),
        extrapolated=tuple(int(v) for v in grid[after]),
        n_extra=n_extra,
    )
    return onsets, report


def _match_grid(markers, tr):
    """Volume index of each kept marker, the markers dropped as repeats or
    off-grid, and the TR measured on the kept markers (least-squares slope).

    The chain starts at each of the first few markers in turn (one of them
    may be spurious) and the chain that keeps the most markers wins; a
    marker joins the chain when it lies a whole number of TRs after the
    last marker of the chain.
    """
    best = None
    for anchor in range(min(3, markers.size)):
        volumes, duplicates, spurious = [0], [], list(range(anchor))
        last = markers[anchor]
        for i in range(anchor + 1, markers.size):
            steps = (markers[i] - last) / tr
            k = int(np.round(steps))
            if abs(steps - k) > _GRID_TOLERANCE:
                spurious.append(i)
            elif k == 0:
                duplicates.append(i)
            else:
                volumes.append(volumes[-1] + k)
                last = markers[i]
        if best is None or len(volumes) > len(best[0]):
            best = (volumes, duplicates, spurious)
    volumes, duplicates, spurious = best
    if len(spurious) > _MAX_SPURIOUS_FRACTION * markers.size or len(volumes) < 2:
        raise ValueError(
            f"{len(spurious)} of {markers.size} volume markers fall between volumes of a "
            f"{tr:.4g} s grid (more than {_MAX_SPURIOUS_FRACTION:.0%}); the markers cannot be "
            "matched to volumes. Check the marker name and pass the TR (tr=) if the "
            "median marker interval is not the TR."
        )
    volumes = np.asarray(volumes)
    kept = np.setdiff1d(np.arange(markers.size), duplicates + spurious)
    # Small per-step errors can add up over a long gap: the kept markers must
    # lie on one straight line of slope ~TR.
    slope, intercept = np.polyfit(volumes, markers[kept], 1)
    residual = np.abs(markers[kept] - (intercept + slope * volumes))
    if residual.max() > _GRID_TOLERANCE * tr:
        worst = int(kept[residual.argmax()])
        raise ValueError(
            f"volume marker {worst} ({markers[worst]:.3f} s) is {residual.max():.3f} s off "
            f"the {slope:.4g} s grid fitted to the markers; the markers cannot be matched "
            "to volumes unambiguously."
        )
    return volumes, tuple(duplicates), tuple(spurious), float(slope)
