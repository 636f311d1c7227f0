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
        filters = extractor.band_filters
        for eeg, starts, positions in X.iter_segments():
            recording = band_passed_recording(eeg, filters, cache=cache)
            for b, sl in enumerate(slices):
                first = np.asarray(starts) + sl.start
                for phase in np.unique(first % sl.step):
                    rows = (first % sl.step) == phase
                    self.source[b, positions[rows]] = len(self.sources[b])
                    self.offset[b, positions[rows]] = (first[rows] - phase) // sl.step
                    self.sources[b].append(
                        recording[b]
                        if sl.step == 1
                        else np.ascontiguousarray(recording[b, :, phase :: sl.step])
                    )
        self.n_chans = X.shape[1]

    def __len__(self):
        return len(self.X)

    def batch(self, indices):
        """``(bands, y)`` for the windows ``indices``, each band ``(len(indices), n_chans, n)``."""
        bands = []
        for b, length in enumerate(self.lengths):
            out = np.empty((len(indices), self.n_chans, length), np.float32)
            sources, source, offset = self.sources[b], self.source[b], self.offset[b]
            for row, i in enumerate(indices):
                out[row] = sources[source[i]][:, offset[i] : offset[i] + length]
            out *= self.inv_scale
            bands.append(torch.from_numpy(out))
        return tuple(bands), self._targets(indices)
