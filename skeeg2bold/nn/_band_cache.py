"""Band-passed recordings, computed once and shared by every fit that sees them.

A network whose temporal filters are fixed band-pass filters
(:class:`InterpretableFeatureExtractor` with ``learn_temporal=False``)
needs each channel filtered in each band, and nothing learned enters that
step: it is the same for every epoch, every fold of a cross-validation and
every candidate of a grid search. For :class:`~skeeg2bold.EEGWindows` each
recording's continuous EEG is filtered once (no window edges) and kept in a
small in-memory cache keyed on the EEG's content and the filters, so that a
second fit on windows of the same recordings reuses it.
"""

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import torch

from ._base import line_coefficients
from ._datasets import BatchDataset
from ._feature_extractor import filter_bank_same_conv

__all__ = ["BandWindowDataset", "band_passed_recording", "clear_band_cache"]

#: Most bytes of band-passed recordings kept between fits (least recently used go first).
MAX_CACHE_BYTES = 2 * 2**30

_cache = OrderedDict()
_lock = threading.Lock()


def clear_band_cache():
    """Forget every cached band-passed recording."""
    with _lock:
        _cache.clear()


def _digest(array):
    array = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(array.view(np.uint8).ravel())
    return h.hexdigest()


def _filter(eeg, filters):
    """``(n_bands, n_chans, n_samples)`` float32: each channel through each filter."""
    x = torch.from_numpy(np.asarray(eeg, dtype=np.float32))
    with torch.no_grad():
        return filter_bank_same_conv(x, filters).numpy()


def band_passed_recording(eeg, filters, *, cache=True):
    """Continuous EEG band-passed by every filter, from the cache when it is there.

    Parameters
    ----------
    eeg : ndarray of shape (n_chans, n_samples)
    filters : Tensor of shape (n_bands, 1, n_taps)
        FIR filters (``InterpretableFeatureExtractor.band_filters``), applied
        as its temporal layer does (zero-padded, centred).
    cache : bool, default=True
        Look the result up (and store it) in the process-wide cache, keyed
        on the content of ``eeg`` and ``filters``.

    Returns
    -------
    ndarray of shape (n_bands, n_chans, n_samples), float32, read-only
    """
    filters = filters.detach().to("cpu", torch.float32)
    if not cache:
        return _filter(eeg, filters)
    key = (_digest(eeg), _digest(filters.numpy()))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    out = _filter(eeg, filters)
    out.flags.writeable = False
    with _lock:
        _cache[key] = out
        total = sum(a.nbytes for a in _cache.values())
        while total > MAX_CACHE_BYTES and len(_cache) > 1:
            total -= _cache.popitem(last=False)[1].nbytes
    return out


class BandWindowDataset(BatchDataset):
    """Band-passed windows cut from filtered recordings, one array per band.

    Item ``i`` is ``(bands, y_i)`` where ``bands[b]`` is window ``i`` of
    every channel band-passed in band ``b`` and read at the samples
    ``extractor.band_slices(n_times)[b]``: what
    ``extractor.band_inputs(window)`` computes, but from the continuous
    recording (no window edges) and with the filtering done once.

    As :meth:`~InterpretableFeatureExtractor.prefilter` removes each
    window's per-channel least-squares line before filtering, the line
    fitted to window ``i`` (extended over its recording) is removed from the
    recording before it is filtered: filtering being linear, the band-passed
    line is subtracted from the cached band-passed recording. A channel's
    offset or a drift linear over the window so changes no band signal, and
    a recording that is one window gives exactly what ``band_inputs`` gives.

    Parameters
    ----------
    X : EEGWindows
    y : ndarray of shape (n_windows, n_outputs) or None
    scale : float
        Windows are divided by this (the regressor's input scale).
    extractor : InterpretableFeatureExtractor
        With fixed band filters (``band_filters`` not ``None``).
    cache : bool, default=True
        Use the process-wide cache of band-passed recordings.
    """

    def __init__(self, X, y, scale, extractor, *, cache=True):
        self.X = X
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.float32)
        self.inv_scale = np.float32(1.0 / scale)
        slices = extractor.band_slices(X.n_times)
        self.lengths = [len(range(sl.start, sl.stop, sl.step)) for sl in slices]
        # Per band, the arrays windows are read from and where each window
        # starts in its array. A band read every q-th sample is stored once
        # per phase, every q-th sample contiguous, so that a window is one
        # contiguous slice along time.
        self.sources = [[] for _ in slices]
        self.source = np.empty((len(slices), len(X)), dtype=np.intp)
        self.offset = np.empty((len(slices), len(X)), dtype=np.intp)
        # Per band and source array, the band-passed ones and sample index of
        # the recording, (2, n); and per window and channel, its line.
        self.line_sources = [[] for _ in slices]
        n_times = X.n_times
        self.line = np.empty((len(X), X.shape[1], 2))
        self.start = np.empty(len(X))
        filters = extractor.band_filters
        for eeg, starts, positions in X.iter_segments():
            # Centred (in float64) before the cast to float32: a large offset
            # would otherwise cost the band signals their precision.
            eeg = np.asarray(eeg, dtype=np.float64)
            eeg = eeg - eeg.mean(axis=1, keepdims=True)
            recording = band_passed_recording(eeg.astype(np.float32), filters, cache=cache)
            n_samples = eeg.shape[1]
            ramps = np.stack([np.ones(n_samples), np.arange(n_samples, dtype=np.float64)])
            with torch.no_grad():
                lines = filter_bank_same_conv(
                    torch.from_numpy(ramps), filters.detach().to("cpu", torch.float64)
                ).numpy()  # (n_bands, 2, n_samples)
            starts = np.asarray(starts)
            views = np.lib.stride_tricks.sliding_window_view(eeg, n_times, axis=1)[:, starts]
            offset, slope = line_coefficients(views)  # (n_chans, n_windows)
            self.line[positions] = np.stack([offset.T, slope.T], axis=-1)
            self.start[positions] = starts
            for b, sl in enumerate(slices):
                first = starts + sl.start
                for phase in np.unique(first % sl.step):
                    rows = (first % sl.step) == phase
                    self.source[b, positions[rows]] = len(self.sources[b])
                    self.offset[b, positions[rows]] = (first[rows] - phase) // sl.step
                    self.sources[b].append(
                        recording[b]
                        if sl.step == 1
                        else np.ascontiguousarray(recording[b, :, phase :: sl.step])
                    )
                    self.line_sources[b].append(np.ascontiguousarray(lines[b, :, phase :: sl.step]))
        self.n_chans = X.shape[1]

    def __len__(self):
        return len(self.X)

    def batch(self, indices):
        """``(bands, y)`` for the windows ``indices``, each band ``(len(indices), n_chans, n)``."""
        bands = []
        for b, length in enumerate(self.lengths):
            out = np.empty((len(indices), self.n_chans, length), np.float32)
            ramp = np.empty((len(indices), 2, length))
            sources, source, offset = self.sources[b], self.source[b], self.offset[b]
            for row, i in enumerate(indices):
                out[row] = sources[source[i]][:, offset[i] : offset[i] + length]
                ramp[row] = self.line_sources[b][source[i]][:, offset[i] : offset[i] + length]
            # The window's line a + s * t, t = 0 at its first sample, band-passed
            # over the recording: a * filtered(1) + s * (filtered(index) - start * filtered(1)).
            ramp[:, 1] -= self.start[indices, None] * ramp[:, 0]
            out *= self.inv_scale
            band = torch.from_numpy(out)
            line = torch.from_numpy((self.line[indices] * self.inv_scale).astype(np.float32))
            band.baddbmm_(line, torch.from_numpy(ramp.astype(np.float32)), alpha=-1)
            bands.append(band)
        return tuple(bands), self._targets(indices)
