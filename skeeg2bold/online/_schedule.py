"""The online twin's schedule, without Lab Streaming Layer.

Which steps are due, where the EEG is contiguous from (gaps), when a stream
has stalled (drop-outs) and which window a step predicts on, from sample
timestamps and arrays alone. :class:`~skeeg2bold.online.OnlineTwin` keeps
the LSL input and output at its edge and asks this module what to do, so
the logic is tested on synthetic timestamps in milliseconds.
"""

import math
from dataclasses import dataclass

import numpy as np

from .._resampling import polyphase_ratio, resample

__all__ = ["RateAdapter", "StepDue", "WindowSchedule"]

#: Samples of EEG before the window that resampling reads, in model samples,
#: so that the filter's start-up transient falls outside the window.
RESAMPLE_PAD = 64


class RateAdapter:
    """Take windows of a stream at ``stream_sfreq`` to the model's rate.

    Parameters
    ----------
    stream_sfreq, model_sfreq : float
        Rates (Hz) of the stream and of the model.
    n_times : int
        Samples of a model window.
    stream_name : str
        For the error message.

    Attributes
    ----------
    ratio : fractions.Fraction or None
        Polyphase ratio (``None``: same rate).
    n_window : int
        Stream samples a window needs: ``n_times``, or with resampling
        ``RESAMPLE_PAD`` model samples more (the filter's start-up).

    Raises
    ------
    ValueError
        The stream's rate is irregular, above the model's, or no polyphase
        ratio reaches the model's exactly (downsampling only).
    """

    def __init__(self, stream_sfreq, model_sfreq, n_times, stream_name):
        if stream_sfreq <= 0:
            raise ValueError(
                f"stream {stream_name!r} has an irregular sampling rate; the model "
                f"needs EEG at {model_sfreq:g} Hz."
            )
        try:
            self.ratio = polyphase_ratio(stream_sfreq, model_sfreq, stream_name)
        except ValueError as err:
            raise ValueError(
                f"stream {stream_name!r} at {stream_sfreq:g} Hz cannot feed a model fitted "
                f"at {model_sfreq:g} Hz: {err}"
            ) from None
        self.n_times = n_times
        self.n_window = (
            n_times
            if self.ratio is None
            else math.ceil((n_times + RESAMPLE_PAD) * stream_sfreq / model_sfreq)
        )

    def __call__(self, window):
        """The last ``n_times`` model samples of a stream window (n_channels, n_window)."""
        if self.ratio is None:
            return window
        return resample(window, self.ratio, padtype="line")[:, -self.n_times :]


@dataclass(frozen=True)
class StepDue:
    """A step whose time has come.

    Attributes
    ----------
    timestamp : float
        Time of the newest sample.
    status : {"ok", "gap", "nonfinite"}
        ``"ok"``: ``window`` can be predicted on. ``"gap"``: the last
        ``n_window`` samples are not all contiguous (or not all in yet).
        ``"nonfinite"``: they hold NaN or inf.
    window : ndarray of shape (n_channels, n_window) or None
        The stream's last ``n_window`` samples when ``status == "ok"``.
    """

    timestamp: float
    status: str
    window: np.ndarray = None


class WindowSchedule:
    """When to read the stream, and what each read gives, from timestamps only.

    One instance per connection. The caller reports how many samples wait
    (:meth:`poll`), hands over what it read (:meth:`feed`) and is told
    which rows to push: a gap found, a step due (with its window), a
    drop-out (:meth:`flag_dropout`).

    Parameters
    ----------
    sfreq : float
        Rate of the stream (Hz).
    n_window : int
        Samples of a window at the stream's rate.
    step : float
        Seconds between steps.
    max_gap : float
        Largest interval (s) between consecutive samples that is not a gap.
    stall_timeout : float
        Seconds without new samples after which :meth:`poll` reports a stall.
    now : float
        Wall time (s, any monotonic clock) of the connection.
    """

    def __init__(self, *, sfreq, n_window, step, max_gap, stall_timeout, now):
        self.sfreq = float(sfreq)
        self.n_window = int(n_window)
        self.step = float(step)
        self.max_gap = float(max_gap)
        self.stall_timeout = float(stall_timeout)
        self.last_ts = None  # newest sample seen
        self.contiguous_from = None  # EEG is contiguous from this time on
        self.next_due = None
        self.t_fetch = None  # newest sample at the last read
        self.last_arrival = float(now)
        self.n_pending = 0
        self.in_dropout = False

    def poll(self, n_new, now):
        """What to do with ``n_new`` samples waiting at wall time ``now``.

        Returns
        -------
        {"read", "stall", None}
            ``"read"``: a step is due (or, after a drop-out, the EEG is
            back): read and :meth:`feed` the samples. ``"stall"``: no sample
            for ``stall_timeout`` seconds. ``None``: wait.
        """
        arrived = n_new > self.n_pending
        if arrived:
            self.last_arrival = now
            self.n_pending = n_new
        elif now - self.last_arrival > self.stall_timeout and self.last_ts is not None:
            return "stall"
        if n_new == 0:
            return None
        if self.in_dropout:  # EEG is back: find where it resumed
            return "read" if arrived else None
        if self.t_fetch is None:  # start-up: as soon as a window's worth is in
            return "read" if n_new >= self.n_window else None
        newest = self.t_fetch + n_new / self.sfreq
        return "read" if newest >= self.next_due - 0.5 / self.sfreq else None

    def read_size(self, n_new, n_buffer):
        """Samples to read: a window, or the new ones plus the one before and slack."""
        return min(max(self.n_window, n_new + 1 + n_new // 2 + 16), n_buffer)

    def flag_dropout(self):
        """Enter a drop-out; ``True`` the first time (push one row), ``False`` after."""
        if self.in_dropout:
            return False
        self.in_dropout = True
        return True

    def feed(self, data, ts):
        """Take the samples read (oldest first); say which rows to push.

        Parameters
        ----------
        data : ndarray of shape (n_channels, n_samples)
        ts : ndarray of shape (n_samples,)
            Their times; slots of a buffer not yet filled have ``ts <= 0``
            and are dropped.

        Returns
        -------
        gap : bool
            A break in the EEG was found among the new samples, to be
            flagged now with its own row (not when it is the first read of
            a connection, nor right after a drop-out, which has its row).
        n_breaks : int
            Breaks found (0 or 1: several in one read count once).
        step : StepDue or None
            The step now due, if any.
        """
        self.n_pending = 0
        filled = ts > 0
        data, ts = data[:, filled], ts[filled]
        if ts.size == 0:
            return False, 0, None
        flagged, n_breaks, new = self._find_breaks(ts)
        if not new:
            return False, 0, None
        newest = float(ts[-1])
        self.t_fetch = newest
        self.in_dropout = False
        if self.next_due is None:
            self.next_due = newest
        if newest < self.next_due - 0.5 / self.sfreq:
            return flagged, n_breaks, None
        self.next_due += self.step
        if self.next_due <= newest:  # fell behind: keep the cadence from now
            self.next_due = newest + self.step
        window_ts = ts[-self.n_window :]
        if window_ts.size < self.n_window or window_ts[0] < self.contiguous_from:
            return flagged, n_breaks, StepDue(newest, "gap")
        window = data[:, -self.n_window :]
        if not np.all(np.isfinite(window)):
            return flagged, n_breaks, StepDue(newest, "nonfinite")
        return flagged, n_breaks, StepDue(newest, "ok", window)

    def _find_breaks(self, ts):
        """Find gaps among the new samples; remember where the EEG is contiguous from."""
        first = self.last_ts is None  # (re)connected: the first sample starts a stretch
        if first:
            self.contiguous_from = float(ts[0])
            new, before = ts, ts[:1]
        else:
            older = ts <= self.last_ts
            new = ts[~older]
            if new.size == 0:
                return False, 0, False
            # The sample before the first new one: the last seen, if still in view.
            before = ts[older][-1:] if older.any() else np.array([-np.inf])
        jumps = np.diff(np.concatenate([before, new])) > self.max_gap
        flagged = n_breaks = 0
        if jumps.any():
            self.contiguous_from = float(new[np.flatnonzero(jumps)[-1]])
            n_breaks = 1
            flagged = not (first or self.in_dropout)
        self.last_ts = float(new[-1])
        return bool(flagged), n_breaks, True
