"""Cleaning a stream by carbon-wire loop regression, without Lab Streaming Layer.

:class:`~skeeg2bold.online.OnlineTwin` re-reads the newest samples of its
buffer at every step, so that each read overlaps the one before. The causal
regression must see every sample once, in order: :class:`StreamCleaner`
feeds it the samples it has not seen and keeps the cleaned ones, so that any
read of the newest samples comes back cleaned. Arrays and timestamps only,
tested without LSL.
"""

import numpy as np

__all__ = ["StreamCleaner"]


class StreamCleaner:
    """The newest samples of a stream, cleaned causally, each sample once.

    Parameters
    ----------
    cwl : CWLRegression
        Its window, delays and high-pass are used
        (:meth:`~skeeg2bold.preprocessing.CWLRegression.stream`).
    sfreq : float
        Rate of the stream (Hz).
    n_channels, n_loops : int
        EEG rows, then loop rows, of every read.
    n_keep : int
        Cleaned samples kept: at least the longest read.

    Attributes
    ----------
    first_sample : ndarray of shape (n_channels + n_loops,) or None
        The first sample cleaned (EEG and loops): where the causal cleaning
        started.
    """

    def __init__(self, cwl, sfreq, n_channels, n_loops, n_keep):
        self.online = cwl.stream(sfreq, n_channels=n_channels, n_loops=n_loops)
        self.n_channels = int(n_channels)
        self.n_keep = int(n_keep)
        self.first_sample = None
        self._data = np.empty((self.n_channels, 0))
        self._ts = np.empty(0)

    def clean(self, data, ts):
        """The read's EEG rows cleaned: the samples not seen before now, the others as before.

        Parameters
        ----------
        data : ndarray of shape (n_channels + n_loops, n_samples)
            The newest samples of the stream, oldest first.
        ts : ndarray of shape (n_samples,)
            Their times; slots of a buffer not yet filled (``ts <= 0``) are
            dropped.

        Returns
        -------
        data : ndarray of shape (n_channels, n_kept)
        ts : ndarray of shape (n_kept,)
            Samples that are not finite are fed to the regression as zeros
            and come out as NaN, so that the windows holding them are
            skipped.
        """
        filled = ts > 0
        data, ts = data[:, filled], ts[filled]
        last = self._ts[-1] if self._ts.size else -np.inf
        new = ts > last
        if new.any():
            eeg, cw = data[: self.n_channels, new], data[self.n_channels :, new]
            if self.first_sample is None:
                self.first_sample = data[:, new][:, 0].copy()
            bad = ~(np.all(np.isfinite(eeg), axis=0) & np.all(np.isfinite(cw), axis=0))
            cleaned = self.online.process(np.where(bad, 0.0, eeg), np.where(bad, 0.0, cw))
            cleaned[:, bad] = np.nan
            self._data = np.hstack([self._data, cleaned])[:, -self.n_keep :]
            self._ts = np.concatenate([self._ts, ts[new]])[-self.n_keep :]
        # The read's samples are the newest ones, all cleaned by now.
        n = min(ts.size, self._ts.size)
        return self._data[:, self._ts.size - n :], self._ts[-n:]

    def ready(self, n_window):
        """Whether the newest ``n_window`` samples were all cleaned with fitted weights."""
        return self.online.n_samples_ - n_window >= self.online.ready_at
