"""From recordings to samples: one EEG window per BOLD sample."""

import numbers
import warnings

import numpy as np
from sklearn.utils import Bunch

from ._recording import Recording
from ._resampling import polyphase_ratio, resample
from ._validation import (
    UNKNOWN_SUBJECT,
    check_memory,
    check_positive,
    check_subject_labels,
    validate_type,
)

__all__ = ["EEGWindows", "make_windows", "DroppedWindowsWarning"]


class DroppedWindowsWarning(UserWarning):
    """BOLD samples were dropped because no full EEG window precedes them."""


class EEGWindows:
    """Overlapping EEG windows that share memory with the continuous EEG.

    Behaves as a read-only array of shape ``(n_windows, n_channels, n_times)``:
    ``np.asarray(X)`` materialises it, ``X[i]`` is a zero-copy view of the
    continuous EEG, and ``X[indices]`` (what scikit-learn's cross-validation
    does) returns another lazy ``EEGWindows``. Windows overlap heavily (a
    10 s window every 2 s), so keeping them as views avoids holding five
    copies of every sample, and lets transformers filter the continuous EEG
    once (:meth:`iter_segments`) instead of every window separately.

    It also carries what each window is: its subject (:attr:`groups`), its
    end time (:attr:`times`), the channel names and the sampling rate, which
    the splitters and estimators of this package read when present.

    Instances are made by :func:`make_windows`; users rarely build one.

    Parameters
    ----------
    buffers : list of ndarray of shape (n_channels, n_samples)
        Continuous EEG of each recording.
    recording_index : ndarray of int, shape (n_windows,)
        Which buffer each window comes from.
    start : ndarray of int, shape (n_windows,)
        First sample of each window in its buffer.
    n_times : int
        Samples per window.
    sfreq : float
    ch_names : list of str
    times : ndarray of shape (n_windows,)
        End time (s) of each window in its recording's EEG clock.
    groups : array-like of shape (n_windows,)
        Subject of each window, kept as text: ``1`` and ``"1"`` are one
        subject.
    """

    def __init__(self, buffers, recording_index, start, n_times, sfreq, ch_names, times, groups):
        self._buffers = list(buffers)
        self.recording_index = np.asarray(recording_index, dtype=np.intp)
        self.start = np.asarray(start, dtype=np.intp)
        self.n_times = int(n_times)
        self.sfreq = float(sfreq)
        self.ch_names = list(ch_names)
        self.times = np.asarray(times, dtype=float)
        self.groups = check_subject_labels(groups, len(self.start))

    # -- array protocol -------------------------------------------------
    @property
    def shape(self):
        return (self.start.shape[0], len(self.ch_names), self.n_times)

    @property
    def ndim(self):
        return 3

    @property
    def dtype(self):
        return self._buffers[0].dtype if self._buffers else np.dtype(float)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def nbytes(self):
        """Bytes a materialised copy would take (the views take none)."""
        return self.size * self.dtype.itemsize

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("EEGWindows cannot be turned into one array without a copy.")
        dtype = np.dtype(dtype or self.dtype)
        check_memory(
            self.size * dtype.itemsize,
            f"Materialising {self!r} as one array",
            "Keep the windows lazy (estimators of this package read them as "
            "views) or index fewer windows.",
        )
        out = np.empty(self.shape, dtype=dtype)
        for i, (r, s) in enumerate(zip(self.recording_index, self.start)):
            out[i] = self._buffers[r][:, s : s + self.n_times]
        return out

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key):
        """Index as numpy indexes the dense array, without materialising it.

        Selecting windows only (an integer, a slice, a 1-D integer or boolean
        array, optionally followed by ``...`` or ``:``) gives a read-only
        view of the continuous EEG (integer) or a lazy ``EEGWindows``; any
        other index is applied by numpy to a copy of just the windows it
        touches, so ``X[key]`` always equals ``np.asarray(X)[key]``.
        """
        key = _expand_index(key if isinstance(key, tuple) else (key,))
        first = next(i for i, k in enumerate(key) if k is not None)
        k0, rest = key[first], key[first + 1 :]
        windows_only = first == 0 and all(isinstance(k, slice) and k == slice(None) for k in rest)
        if isinstance(k0, numbers.Integral):
            i = int(k0)
            if not -len(self) <= i < len(self):
                raise IndexError(f"window index {i} out of range for {len(self)} windows.")
            view = self._window(i)
            if windows_only:
                return view
            # Through a 1-window stack so numpy applies its own rules (an
            # integer beside advanced indices is one of them).
            return view[np.newaxis][key[:first] + (0,) + rest]
        if isinstance(k0, np.ndarray) and k0.dtype == bool and k0.ndim > 1:
            # A mask over windows and channels: numpy must see the whole array.
            return np.asarray(self)[key]
        idx = np.arange(len(self))[k0]
        if windows_only and idx.ndim == 1:
            return self._subset(idx)
        if isinstance(k0, slice):
            return np.asarray(self._subset(idx))[key[:first] + (slice(None),) + rest]
        unique, inverse = np.unique(idx, return_inverse=True)
        dense = np.asarray(self._subset(unique))
        return dense[key[:first] + (inverse.reshape(idx.shape),) + rest]

    def _window(self, i):
        r, s = self.recording_index[i], self.start[i]
        view = self._buffers[r][:, s : s + self.n_times]
        view.flags.writeable = False  # the caller's EEG and every overlapping window
        return view

    def _subset(self, idx):
        return EEGWindows(
            self._buffers,
            self.recording_index[idx],
            self.start[idx],
            self.n_times,
            self.sfreq,
            self.ch_names,
            self.times[idx],
            self.groups[idx],
        )

    def astype(self, dtype, copy=True):
        """Materialise as an ndarray of ``dtype``."""
        return np.asarray(self, dtype=dtype)

    # -- construction and channels -------------------------------------
    @classmethod
    def from_array(cls, X, *, sfreq, ch_names, groups=None):
        """Name the channels and the sampling rate of plain windows.

        Estimators fitted on windows from :func:`make_windows` know their
        channel names and rate, and refuse plain arrays, whose channels they
        cannot check. Windows from elsewhere (a stream, another toolbox) are
        wrapped here to state what they hold; every window is then a view of
        ``X``, filtered on its own (as plain arrays are).

        Parameters
        ----------
        X : array-like of shape (n_windows, n_channels, n_times)
        sfreq : float
            Sampling rate in Hz.
        ch_names : list of str
            Name of each channel, in the order of ``X``'s second axis.
        groups : array-like of shape (n_windows,), default=None
            Subject of each window (as text: ``1`` and ``"1"`` are one
            subject). None labels every window ``"<unknown>"``
            (``skeeg2bold._validation.UNKNOWN_SUBJECT``), a label no fit
            learns a reference for: steps with per-subject references
            (:class:`~skeeg2bold.features.SubjectAlignment`,
            :class:`~skeeg2bold.features.BandCovariances`) reference such
            windows at their own EEG, as a new subject's, never at a fitted
            subject's.

        Returns
        -------
        windows : EEGWindows
        """
        from ._validation import check_eeg_windows_array, check_names

        X = check_eeg_windows_array(X, "X")
        n_windows, n_channels, n_times = X.shape
        sfreq = check_positive(sfreq, "sfreq")
        ch_names = check_names(ch_names, n_channels, "ch_names")
        if groups is None:
            groups = np.full(n_windows, UNKNOWN_SUBJECT)
        groups = check_subject_labels(groups, n_windows)
        return cls(
            list(X),
            np.arange(n_windows),
            np.zeros(n_windows, dtype=np.intp),
            n_times,
            sfreq,
            ch_names,
            np.full(n_windows, n_times / sfreq),
            groups,
        )

    def pick(self, ch_names):
        """The same windows with the channels ``ch_names``, in that order.

        The continuous EEG is copied once, with its rows in the new order.

        Parameters
        ----------
        ch_names : list of str
            Channels to keep, each one of :attr:`ch_names`.

        Returns
        -------
        windows : EEGWindows
        """
        ch_names = [str(c) for c in ch_names]
        missing = [c for c in ch_names if c not in self.ch_names]
        if missing or not ch_names or len(set(ch_names)) != len(ch_names):
            raise ValueError(
                f"ch_names must be distinct channels of the windows; {missing or ch_names} "
                f"are not (channels: {self.ch_names})."
            )
        order = [self.ch_names.index(c) for c in ch_names]
        buffers = [np.ascontiguousarray(b[order]) for b in self._buffers]
        return EEGWindows(
            buffers,
            self.recording_index,
            self.start,
            self.n_times,
            self.sfreq,
            ch_names,
            self.times,
            self.groups,
        )

    # -- structure ------------------------------------------------------
    def iter_segments(self):
        """Yield ``(continuous_eeg, starts, positions)`` per recording.

        ``continuous_eeg`` is the recording's EEG ``(n_channels, n_samples)``,
        ``starts`` the first sample of each of its windows and ``positions``
        where those windows sit in ``self``. Transformers that filter can
        process the continuous signal once and cut the windows afterwards.
        """
        for r in np.unique(self.recording_index):
            positions = np.flatnonzero(self.recording_index == r)
            yield self._buffers[r], self.start[positions], positions

    def __repr__(self):
        n_sub = len(np.unique(self.groups))
        return (
            f"<EEGWindows | {len(self)} windows x {len(self.ch_names)} channels x "
            f"{self.n_times} samples ({self.n_times / self.sfreq:g} s at {self.sfreq:g} Hz), "
            f"{n_sub} subject(s), views of {len(self._buffers)} recording(s)>"
        )


def make_windows(
    recordings,
    *,
    window=10.0,
    step=None,
    shift=0.0,
    sfreq=None,
    dtype=None,
):
    """Cut EEG windows that end at each BOLD sample.

    Parameters
    ----------
    recordings : Recording or list of Recording
        All must share channel names (same order) and ROI names.
    window : float, default=10.0
        Length of each EEG window in seconds (the paper uses 10 s).
    step : float, default=None
        ``None`` gives one sample per volume, at the measured volume onsets.
        A number (seconds) gives samples on a regular grid with that step
        from the first to the last volume, the BOLD linearly interpolated
        between volumes (use a step finer than the TR for more samples).
    shift : float, default=0.0
        Hemodynamic shift in seconds: the EEG window for the BOLD sample at
        ``t`` ends at ``t - shift``. Positive values leave the most recent
        ``shift`` seconds of EEG out.
    sfreq : float, default=None
        Resample the EEG to this rate (polyphase, anti-aliased) before
        windowing. Needed when recordings differ in sampling rate. Only
        downsampling, to a rate ``p / q`` times each recording's with
        ``q <= 1000`` (100 Hz from 250, 500, 1000 or 5000 Hz).
    dtype : {None, "float32", "float64"}, default=None
        Store the continuous EEG in this dtype (float32 halves the memory).

    Returns
    -------
    data : sklearn.utils.Bunch
        With the fields:

        - ``X`` : :class:`EEGWindows` of shape (n_windows, n_channels, n_times),
          read-only windows sharing memory with the continuous EEG;
          ``np.asarray(data.X)`` makes a plain array.
        - ``y`` : ndarray of shape (n_windows, n_rois), the BOLD at each
          window's sample time.
        - ``groups`` : ndarray of shape (n_windows,), subject of each window.
        - ``times`` : ndarray of shape (n_windows,), EEG window end time (s).
        - ``bold_times`` : ndarray of shape (n_windows,), BOLD sample time (s).
        - ``ch_names``, ``roi_names``, ``sfreq``, ``window``, ``shift`` and
          ``info`` (mne.Info of the first recording, montage included when
          known).

    Warns
    -----
    DroppedWindowsWarning
        When BOLD samples are dropped because their EEG window would start
        before the recording or end after it; the warning gives the counts.

    Examples
    --------
    >>> from skeeg2bold import make_windows
    >>> from skeeg2bold.datasets import simulate_eeg_fmri
    >>> sim = simulate_eeg_fmri(n_subjects=2, duration=60.0, random_state=0)  # doctest: +SKIP
    >>> data = make_windows(sim.recordings, window=10.0)  # doctest: +SKIP
    """
    if isinstance(recordings, Recording):
        recordings = [recordings]
    if isinstance(recordings, (str, bytes)) or not hasattr(recordings, "__iter__"):
        raise TypeError(
            "recordings must be a Recording or a list of Recording, got "
            f"{type(recordings).__name__}."
        )
    recordings = list(recordings)
    if not recordings:
        raise ValueError("recordings is empty; give at least one Recording.")
    for i, rec in enumerate(recordings):
        validate_type(rec, Recording, f"recordings[{i}]")
    window = check_positive(window, "window")
    step = check_positive(step, "step", allow_none=True)
    if isinstance(shift, bool) or not isinstance(shift, numbers.Real) or not np.isfinite(shift):
        raise ValueError(f"shift must be a finite number of seconds, got {shift!r}.")
    sfreq = check_positive(sfreq, "sfreq", allow_none=True)
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}.") from None
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype}.")

    ref = recordings[0]
    for rec in recordings[1:]:
        if rec.ch_names != ref.ch_names:
            diff = sorted(set(rec.ch_names) ^ set(ref.ch_names))
            detail = f"differing channels: {diff}" if diff else "same channels in another order"
            raise ValueError(
                f"Recording of subject {rec.subject!r} has other EEG channels than "
                f"subject {ref.subject!r} ({detail}); pick and order the channels "
                "identically in every recording."
            )
        if rec.roi_names != ref.roi_names:
            raise ValueError(
                f"Recording of subject {rec.subject!r} has ROIs {rec.roi_names} but "
                f"subject {ref.subject!r} has {ref.roi_names}."
            )
    rates = {rec.sfreq for rec in recordings}
    if sfreq is None and len(rates) > 1:
        raise ValueError(
            f"recordings have different sampling rates {sorted(rates)}; pass sfreq= "
            "to resample them to a common rate."
        )
    out_sfreq = sfreq if sfreq is not None else ref.sfreq
    for rec in recordings:
        polyphase_ratio(rec.sfreq, out_sfreq, rec.subject)
    n_times = int(round(window * out_sfreq))
    if n_times < 2:
        raise ValueError(f"window={window} s is shorter than two samples at {out_sfreq} Hz.")
    if step is not None and step * out_sfreq < 1:
        # Window ends fall on EEG samples: a finer grid only repeats windows.
        raise ValueError(
            f"step={step} s is shorter than one EEG sample at {out_sfreq} Hz ({1 / out_sfreq:g} s)."
        )

    check_memory(
        _memory_estimate(recordings, out_sfreq, step, dtype),
        f"make_windows on {len(recordings)} recording(s) at {out_sfreq:g} Hz"
        + (f" with step={step:g} s" if step is not None else ""),
        "Use fewer recordings, a coarser step, float32 or a lower sfreq.",
    )
    buffers, rec_index, starts, times, bold_times, groups, ys = [], [], [], [], [], [], []
    n_before = n_after = 0
    for r, rec in enumerate(recordings):
        eeg = resample(rec.eeg, polyphase_ratio(rec.sfreq, out_sfreq, rec.subject))
        if dtype is not None:
            eeg = eeg.astype(dtype, copy=False)
        if eeg.shape[1] < n_times:
            raise ValueError(
                f"window={window} s is longer than the EEG of subject {rec.subject!r} "
                f"({eeg.shape[1] / out_sfreq:.2f} s)."
            )
        t_bold, y = _bold_samples(rec, step)
        # Compare in float before casting: a huge shift or onset would
        # overflow the integer sample index and wrap around.
        stop = np.round((t_bold - shift) * out_sfreq)
        early = stop - n_times < 0
        late = stop > eeg.shape[1]
        keep = ~(early | late)
        stop = stop[keep].astype(np.intp)
        n_before += int(early.sum())
        n_after += int(late.sum())
        buffers.append(eeg)
        rec_index.append(np.full(keep.sum(), r))
        starts.append(stop - n_times)
        times.append(stop / out_sfreq)
        bold_times.append(t_bold[keep])
        groups.append(np.full(keep.sum(), rec.subject, dtype=object))
        ys.append(y[keep])

    n_kept = sum(len(s) for s in starts)
    if n_before or n_after:
        warnings.warn(
            f"Dropped {n_before + n_after} of {n_kept + n_before + n_after} BOLD samples "
            f"without a full {window:g} s EEG window: {n_before} before the EEG has "
            f"{window:g} s of history, {n_after} after the EEG ends.",
            DroppedWindowsWarning,
            stacklevel=2,
        )
    if n_kept == 0:
        raise ValueError(
            f"No BOLD sample has a full {window:g} s EEG window before it; check "
            "volume_times (EEG clock, seconds), window and shift."
        )
    groups = np.concatenate(groups).astype(str)
    times = np.concatenate(times)
    X = EEGWindows(
        buffers,
        np.concatenate(rec_index),
        np.concatenate(starts),
        n_times,
        out_sfreq,
        ref.ch_names,
        times,
        groups,
    )
    info = ref.info
    if out_sfreq != ref.sfreq:
        info = info.copy()
        with info._unlock():
            info["sfreq"] = out_sfreq
            info["lowpass"] = min(info["lowpass"], out_sfreq / 2)
    return Bunch(
        X=X,
        y=np.concatenate(ys),
        groups=groups,
        times=times,
        bold_times=np.concatenate(bold_times),
        ch_names=list(ref.ch_names),
        roi_names=list(ref.roi_names),
        sfreq=out_sfreq,
        window=window,
        shift=float(shift),
        info=info,
    )


def _expand_index(key):
    """Replace ``...`` by the slices it stands for, as numpy does for 3-D arrays."""
    n_ellipsis = sum(k is Ellipsis for k in key)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...').")
    n_axes = sum(
        np.ndim(k) if isinstance(k, np.ndarray) and k.dtype == bool else 1
        for k in key
        if k is not None and k is not Ellipsis
    )
    if n_axes > 3:
        raise IndexError(f"too many indices for EEGWindows: 3-D, but {n_axes} were indexed.")
    fill = (slice(None),) * (3 - n_axes)
    if n_ellipsis:
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        return key[:at] + fill + key[at + 1 :]
    return key + fill


def _memory_estimate(recordings, out_sfreq, step, dtype):
    """Bytes make_windows allocates: resampled or recast EEG (the windows
    themselves are views) and, per BOLD sample, its targets and bookkeeping."""
    total = 0
    for rec in recordings:
        if not np.isclose(rec.sfreq, out_sfreq):
            # resample_poly works in float64 and returns the output's size.
            total += rec.n_channels * rec.eeg.shape[1] * out_sfreq / rec.sfreq * 16
        elif dtype is not None and dtype != rec.eeg.dtype:
            total += rec.n_channels * rec.eeg.shape[1] * dtype.itemsize
        n_samples = rec.n_volumes
        if step is not None:
            n_samples = (rec.volume_times[-1] - rec.volume_times[0]) / step + 1
        # y (float64 per ROI), start, index, end time, BOLD time, group, masks.
        total += n_samples * (8 * rec.bold.shape[1] + 8 * 6 + 64)
    return int(total)


def _bold_samples(rec, step):
    """BOLD sample times and values: the volumes, or a regular interpolated grid."""
    if step is None:
        return rec.volume_times, rec.bold
    t0, t1 = rec.volume_times[0], rec.volume_times[-1]
    grid = t0 + step * np.arange(int(np.floor((t1 - t0) / step + 1e-9)) + 1)
    y = np.column_stack(
        [np.interp(grid, rec.volume_times, rec.bold[:, k]) for k in range(rec.bold.shape[1])]
    )
    return grid, y
