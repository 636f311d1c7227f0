"""A compact interpretable network (Petrosyan et al. 2021) with a lagged readout."""

from torch import nn
from torch.nn import functional as F

from ._base import EEGModuleMixin
from ._feature_extractor import InterpretableFeatureExtractor

__all__ = ["CompactNet"]


class CompactNet(EEGModuleMixin, nn.Module):
    """Branch envelopes, averaged into ``n_lags`` bins, read out linearly.

    The same :class:`InterpretableFeatureExtractor` as :class:`EEG2BoldNet`,
    followed by what a lagged-envelope ridge does, but learned end to end:
    each envelope is averaged over ``n_lags`` consecutive bins of the window
    (its recent history, which the haemodynamic response integrates), batch
    normalised, and a linear layer maps the ``n_branches * n_lags`` values to
    the targets. Few parameters, so it suits a few minutes of data per
    subject.

    Parameters
    ----------
    n_chans : int, default=30
    n_times : int, default=1000
    n_outputs : int, default=15
    sfreq : float, default=100.0
    n_branches : int, default=15
    filter_length : float, default=0.5
    smoothing : float, default=1.0
    learn_smoothing : bool, default=False
    log_envelope, init_bands : bool, default=True
        See :class:`InterpretableFeatureExtractor` and :class:`EEG2BoldNet`.
    n_lags : int, default=10
        Bins the window is averaged into (≤ ``n_times``).
    dropout : float, default=0.25
        Dropout before the linear readout.

    Shape
    -----
    - Input: ``(batch, n_chans, n_times)``
    - Output: ``(batch, n_outputs)``

    Examples
    --------
    >>> import torch
    >>> from skeeg2bold.nn import CompactNet
    >>> net = CompactNet(n_chans=8, n_times=200, n_outputs=3, sfreq=50.0).eval()
    >>> net(torch.randn(5, 8, 200)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_chans=30, n_times=1000, n_outputs=15, sfreq=100.0, *,
                 n_branches=15, filter_length=0.5, smoothing=1.0, learn_smoothing=False,
                 log_envelope=True, init_bands=True,
                 n_lags=10, dropout=0.25):
        super().__init__()
        self._set_signal_args(n_chans, n_times, n_outputs, sfreq)
        if not 1 <= n_lags <= n_times:
            raise ValueError(f"n_lags must be between 1 and n_times={n_times}, got {n_lags}.")
        self.n_lags = int(n_lags)
        self.feature_extractor = InterpretableFeatureExtractor(
            n_chans, sfreq, n_branches=n_branches, filter_length=filter_length,
            smoothing=smoothing, learn_smoothing=learn_smoothing, log_envelope=log_envelope,
            init_bands=init_bands,
        )
        self.norm = nn.BatchNorm1d(n_branches)
        self.drop = nn.Dropout(dropout)
        self.readout = nn.Linear(n_branches * n_lags, n_outputs)

    def forward(self, x, bold=None, **kwargs):
        """Predict ``(batch, n_outputs)``; ``bold`` and routed fit parameters are
        accepted for interchangeability with :class:`EEG2BoldNet` and ignored."""
        lagged = F.adaptive_avg_pool1d(self.feature_extractor(x), self.n_lags)
        return self.readout(self.drop(self.norm(lagged).flatten(1)))
