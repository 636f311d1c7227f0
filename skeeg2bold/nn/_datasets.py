"""Datasets the regressor trains on, each batch assembled in one go."""

import numpy as np
import torch
from torch.utils.data import Subset, default_collate

__all__ = ["BatchDataset", "WindowDataset", "assembles_batches", "collate_batch"]


class _Batch(list):
    """The samples of a batch (what a collate function expects) and, in
    ``collated``, the same batch already stacked."""

    def __init__(self, X, y):
        super().__init__(
            (X[i] if torch.is_tensor(X) else tuple(x[i] for x in X), y[i]) for i in range(len(y))
        )
        self.collated = (X, y)


class BatchDataset(torch.utils.data.Dataset):
    """A dataset whose ``batch(indices)`` gives ``(X, y)`` for many windows at once.

    The DataLoader calls ``__getitems__`` with a batch's indices; the
    result is a list of samples, so any collate function works, and
    :func:`collate_batch` takes the stacked batch it carries instead of
    stacking the samples again (one copy per batch, not one per window).
    """

    def __getitems__(self, indices):
        return _Batch(*self.batch(np.asarray(indices, dtype=np.intp)))

    def __getitem__(self, i):
        X, y = self.batch(np.array([i], dtype=np.intp))
        return (X[0] if torch.is_tensor(X) else tuple(x[0] for x in X)), y[0]

    def _targets(self, indices):
        if self.y is None:
            return torch.zeros(len(indices), 1)
        return self.y[torch.from_numpy(indices)]


def collate_batch(batch):
    """``default_collate``, without re-stacking a batch that is stacked already."""
    collated = getattr(batch, "collated", None)
    return collated if collated is not None else default_collate(batch)


def assembles_batches(dataset):
    """Whether ``dataset`` (or the dataset a Subset takes from) is a BatchDataset."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, BatchDataset)


class WindowDataset(BatchDataset):
    """Windows as float32 tensors, scaled; reads EEGWindows views lazily.

    Materialising the windows of one batch at a time keeps memory at one
    batch, whether ``X`` is an ndarray or the overlapping views of an
    EEGWindows.

    Parameters
    ----------
    X : EEGWindows or ndarray of shape (n_windows, n_chans, n_times)
    y : ndarray of shape (n_windows, n_outputs) or None
    scale : float
        Windows are divided by this.
    """

    def __init__(self, X, y, scale):
        self.X = X
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.float32)
        self.scale = np.float32(scale)

    def __len__(self):
        return len(self.X)

    def batch(self, indices):
        X = np.asarray(self.X[indices], dtype=np.float32) / self.scale
        return torch.from_numpy(X), self._targets(indices)
