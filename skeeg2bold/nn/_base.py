"""Signal arguments shared by every network, so architectures are swappable."""

import numpy as np
import torch

from .._validation import check_int, check_positive

__all__ = ["EEGModuleMixin", "remove_line", "window_amplitude"]


def remove_line(x):
    """Each window's per-channel least-squares line removed: offset and linear drift.

    The first step of every network of :mod:`skeeg2bold.nn`, so that a
    channel's DC offset, or a drift that is linear over the window, changes
    no prediction (the fixed band-pass filters have a DC gain, and learned
    temporal filters and spectra can have one). It runs inside the module's
    ``forward``, so predictions offline and online go through the same step.

    Parameters
    ----------
    x : Tensor of shape (..., n_times)

    Returns
    -------
    Tensor of shape (..., n_times)
        ``x`` minus, along the last axis, its mean and its projection on the
        centred sample index (the line fitted by least squares).
    """
    centred = x - x.mean(dim=-1, keepdim=True)
    n_times = x.shape[-1]
    if n_times < 2:
        return centred
    t = torch.arange(n_times, dtype=x.dtype, device=x.device) - (n_times - 1) / 2
    t = t / t.norm()
    return centred - (centred @ t)[..., None] * t


def window_amplitude(windows):
    """Amplitude of EEG windows as the networks see it: offsets and drifts left out.

    Parameters
    ----------
    windows : array-like of shape (n_windows, n_chans, n_times)

    Returns
    -------
    float
        Median over channels of the root mean square, over windows and
        samples, of each window with its per-channel least-squares line
        removed (:func:`scipy.signal.detrend`, as :func:`remove_line`); ``0.0``
        when every channel is flat.
    """
    from scipy.signal import detrend

    residual = detrend(np.asarray(windows, dtype=np.float64), axis=-1)
    rms = np.sqrt((residual**2).mean(axis=(0, 2)))
    positive = rms[rms > 0]
    return float(np.median(positive)) if positive.size else 0.0


def line_coefficients(windows):
    """Offset and slope of the least-squares line of each window, per channel.

    Parameters
    ----------
    windows : ndarray of shape (..., n_times)

    Returns
    -------
    offset, slope : ndarray of shape (...,), float64
        The line ``offset + slope * t`` (``t = 0, ..., n_times - 1``) that
        :func:`remove_line` subtracts.
    """
    windows = np.asarray(windows, dtype=np.float64)
    n_times = windows.shape[-1]
    mean = windows.mean(axis=-1)
    if n_times < 2:
        return mean, np.zeros_like(mean)
    t = np.arange(n_times) - (n_times - 1) / 2
    slope = (windows @ t) / (t @ t)
    return mean - slope * (n_times - 1) / 2, slope


class EEGModuleMixin:
    """Store and check the signal arguments every network takes.

    All networks of :mod:`skeeg2bold.nn` accept ``n_chans``, ``n_times``,
    ``n_outputs`` and ``sfreq``, so :class:`~skeeg2bold.nn.EEG2BoldRegressor`
    can fill them in from the data for whichever ``module`` a grid search
    picks. Defaults match the paper's data: 30 EEG channels, 10 s windows at
    100 Hz, 14 ROIs + their common mode.
    """

    def _set_signal_args(self, n_chans, n_times, n_outputs, sfreq):
        self.n_chans = check_int(n_chans, "n_chans", min_value=1)
        self.n_times = check_int(n_times, "n_times", min_value=1)
        self.n_outputs = check_int(n_outputs, "n_outputs", min_value=1)
        self.sfreq = check_positive(sfreq, "sfreq")

    # The linear readout: what EEG2BoldRegressor(refit_readout=True) re-solves.
    def readout_features(self, x):
        """Inputs of the final linear layer, ``(batch, n_features)``.

        The network's prediction is ``readout_layer`` applied to these, so the
        layer can be fitted in closed form once the rest is trained.
        """
        raise NotImplementedError(f"{type(self).__name__} does not expose its readout.")

    @property
    def readout_layer(self):
        """The final linear map (``nn.Linear`` or kernel-1 ``nn.Conv1d``)."""
        raise NotImplementedError(f"{type(self).__name__} does not expose its readout.")

    def set_readout(self, coef, intercept):
        """Write ``prediction = features @ coef.T + intercept`` into ``readout_layer``.

        Parameters
        ----------
        coef : array-like of shape (n_outputs, n_features)
        intercept : array-like of shape (n_outputs,)
        """
        layer = self.readout_layer
        with torch.no_grad():
            weight, bias = layer.weight, layer.bias
            weight.copy_(torch.as_tensor(coef).to(weight).reshape(weight.shape))
            bias.copy_(torch.as_tensor(intercept).to(bias).reshape(bias.shape))
