"""What follows training: the network's readout re-solved in closed form, and the
affine map of its outputs to the units of ``y``."""

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .._constants import READOUT_ALPHAS

__all__ = [
    "DEFAULT_READOUT_ALPHAS",
    "calibrate_outputs",
    "evaluate_module",
    "exposes_readout",
    "readout_inputs",
    "readout_outputs",
    "ridge_cv_contiguous",
    "solve_readout",
]

#: Ridge penalties tried when the readout is re-solved (``readout_alphas=None``).
DEFAULT_READOUT_ALPHAS = READOUT_ALPHAS


def exposes_readout(module):
    """Whether ``module`` has a linear readout that can be re-solved in closed form.

    It needs ``readout_features()`` and a ``readout_layer`` with a weight.
    """
    try:
        layer = module.readout_layer
    except (AttributeError, NotImplementedError):
        return False
    return callable(getattr(module, "readout_features", None)) and hasattr(layer, "weight")


def evaluate_module(module, batches, methods):
    """Module ``methods`` over input ``batches``, in evaluation mode, as float64 arrays.

    Parameters
    ----------
    module : torch.nn.Module
    batches : iterable of torch.Tensor
        The inputs, batch by batch, on the module's device.
    methods : list of str
        Names of the module's methods to call on each batch.

    Returns
    -------
    outputs : list of ndarray or None
        Each method's outputs over all batches, concatenated (``None`` for a
        method that returns None). The module's training mode is restored.
    """
    was_training = module.training
    module.eval()
    outputs = [[] for _ in methods]
    try:
        with torch.no_grad():
            for Xi in batches:
                for out, method in zip(outputs, methods):
                    value = getattr(module, method)(Xi)
                    out.append(None if value is None else value.double().cpu().numpy())
    finally:
        module.train(was_training)
    return [None if out[0] is None else np.concatenate(out) for out in outputs]


def readout_inputs(module, batches):
    """The readout's features and, if the module has one, the offset it adds to.

    Returns
    -------
    features : ndarray of shape (n_windows, n_features)
    offset : ndarray of shape (n_windows, n_outputs) or None
    """
    methods = ["readout_features"]
    if callable(getattr(module, "readout_offset", None)):
        methods.append("readout_offset")
    outputs = evaluate_module(module, batches, methods)
    return outputs[0], (outputs[1] if len(outputs) > 1 else None)


def readout_outputs(module, features, offset, gain):
    """What the network outputs in evaluation, from its readout features.

    The readout layer's weights, as stored, applied to ``features``, plus
    ``gain * offset`` when the module adds an offset; equal to a forward pass
    without recomputing the features.
    """
    layer = module.readout_layer
    weight = layer.weight.detach().cpu().double().numpy().reshape(layer.weight.shape[0], -1)
    raw = features @ weight.T + layer.bias.detach().cpu().double().numpy()
    return raw if offset is None else raw + gain * offset


def solve_readout(features, target, alphas, offset=None, offset_rows=slice(None)):
    """Cross-validated ridge from the readout features to the targets.

    Parameters
    ----------
    features : ndarray of shape (n_windows, n_features)
    target : ndarray of shape (n_windows, n_outputs)
        Standardised targets.
    alphas : ndarray of shape (n_alphas,)
        Penalties, on standardised features.
    offset : ndarray of shape (n_windows, n_outputs) or None
        A part of the network the readout adds to (EEG2BoldNet's deep
        path). It is scaled to the targets by least squares on
        ``offset_rows`` (the validation windows: on its own training windows
        it fits too well to be weighed), never below zero, and the readout
        takes the rest.
    offset_rows : index, default=slice(None)

    Returns
    -------
    coef : ndarray of shape (n_outputs, n_features)
    intercept : ndarray of shape (n_outputs,)
    alpha : float
    gain : ndarray of shape (n_outputs,) or None
        The offset's scale (``None`` without an offset).
    """
    gain = None
    if offset is not None:
        held, t = offset[offset_rows], target[offset_rows]
        centred = held - held.mean(axis=0)
        var = (centred**2).sum(axis=0)
        gain = np.divide(
            (centred * (t - t.mean(axis=0))).sum(axis=0), var, out=np.zeros_like(var), where=var > 0
        )
        gain = np.maximum(gain, 0.0)
        target = target - gain * offset
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale == 0] = 1.0
    # Contiguous folds (no shuffling): the windows of one subject overlap.
    coef, intercept, alpha = ridge_cv_contiguous((features - mean) / scale, target, alphas)
    coef = coef / scale
    return coef, intercept - coef @ mean, alpha, gain


def calibrate_outputs(raw, y):
    """Per-output least-squares slope and intercept from ``raw`` ``(n, k)`` to ``y`` ``(n, k)``.

    The correlation loss fixes neither scale nor offset of the network's
    outputs; this maps them to the units of ``y``.
    """
    raw_c = raw - raw.mean(axis=0)
    var = (raw_c**2).sum(axis=0)
    cov = (raw_c * (y - y.mean(axis=0))).sum(axis=0)
    coef = np.divide(cov, var, out=np.zeros_like(cov), where=var > 0)
    return coef, y.mean(axis=0) - coef * raw.mean(axis=0)


def _r2(y_true, y_pred):
    """``r2_score(..., multioutput="uniform_average")`` for 2-D arrays."""
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
    return float(score.mean())


class _RidgePath:
    """Centred ridge for every penalty from one eigendecomposition of the smaller Gram matrix.

    With ``X`` centred, ``coef(alpha) = X.T (X X.T + alpha I)^-1 Y`` (dual,
    fewer windows than features) or ``(X.T X + alpha I)^-1 X.T Y``
    (primal); both through the eigenvectors ``Q`` and eigenvalues ``lam``
    of the Gram matrix, so each penalty costs a product, not a solve. This
    is the SVD solution (``lam`` are the squared singular values) without
    the SVD of a wide matrix.
    """

    def __init__(self, X, Y):
        self.x_mean, self.y_mean = X.mean(axis=0), Y.mean(axis=0)
        self.X, Yc = X - self.x_mean, Y - self.y_mean
        self.dual = len(X) < X.shape[1]
        gram = self.X @ self.X.T if self.dual else self.X.T @ self.X
        self.lam, self.Q = np.linalg.eigh(gram)
        self.QtY = self.Q.T @ (Yc if self.dual else self.X.T @ Yc)

    def _weights(self, alpha):
        return self.Q @ (self.QtY / (self.lam + alpha)[:, None])

    def coef(self, alpha):
        """``(n_features, n_targets)``."""
        weights = self._weights(alpha)
        return self.X.T @ weights if self.dual else weights

    def predictors(self, X_new):
        """A function of the penalty giving the predictions for ``X_new``."""
        Xc = X_new - self.x_mean
        left = (Xc @ self.X.T @ self.Q) if self.dual else Xc @ self.Q
        return lambda alpha: left @ (self.QtY / (self.lam + alpha)[:, None]) + self.y_mean


def ridge_cv_contiguous(X, Y, alphas, n_splits=5):
    """Ridge with intercept, its penalty chosen by contiguous K-fold R².

    Gives what ``RidgeCV(alphas=alphas, cv=KFold(n_splits)).fit(X, Y)``
    gives (same folds, same score, first best penalty on ties), but solves
    each fold once for every penalty from one eigendecomposition instead of once per
    penalty.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    alphas : ndarray of shape (n_alphas,)
    n_splits : int, default=5

    Returns
    -------
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)
    alpha : float
    """
    with threadpool_limits(1):
        # Matrices of a few thousand windows: one BLAS thread is as fast, and
        # spinning BLAS threads slow to a crawl on a busy machine.
        return _ridge_cv_contiguous(X, Y, alphas, n_splits)


def _ridge_cv_contiguous(X, Y, alphas, n_splits):
    n = len(X)
    n_splits = min(n_splits, n)
    bounds = np.cumsum([0] + [n // n_splits + (i < n % n_splits) for i in range(n_splits)])
    scores = np.zeros(len(alphas))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        train = np.r_[0:lo, hi:n]
        predict = _RidgePath(X[train], Y[train]).predictors(X[lo:hi])
        for a, alpha in enumerate(alphas):
            scores[a] += _r2(Y[lo:hi], predict(alpha))
    best = int(np.argmax(scores))  # first of equal scores, as GridSearchCV ranks
    path = _RidgePath(X, Y)
    coef = path.coef(alphas[best]).T
    return coef, path.y_mean - coef @ path.x_mean, float(alphas[best])
