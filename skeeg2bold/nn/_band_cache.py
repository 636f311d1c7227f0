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
        self.slices = extractor.band_slices(X.n_times)
        self.buffer = np.empty(len(X), dtype=np.intp)
        self.start = np.empty(len(X), dtype=np.intp)
        self.recordings = []
        filters = extractor.band_filters
        for eeg, starts, positions in X.iter_segments():
            self.buffer[positions] = len(self.recordings)
            self.start[positions] = starts
            self.recordings.append(band_passed_recording(eeg, filters, cache=cache))

    def __len__(self):
        return len(self.X)

    def batch(self, indices):
        """``(bands, y)`` for the windows ``indices``, each band ``(len(indices), n_chans, n)``."""
        bands = []
        for sl in self.slices:
            lengths = len(range(sl.start, sl.stop, sl.step))
            out = np.empty((len(indices), self.recordings[0].shape[1], lengths), np.float32)
            bands.append(out)
        for row, i in enumerate(indices):
            s, recording = self.start[i], self.recordings[self.buffer[i]]
            for b, sl in enumerate(self.slices):
                bands[b][row] = recording[b, :, s + sl.start:s + sl.stop:sl.step]
        for band in bands:
            band *= self.inv_scale
        return tuple(torch.from_numpy(band) for band in bands), self._targets(indices)
