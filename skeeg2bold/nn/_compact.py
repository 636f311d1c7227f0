"""A compact interpretable network (Petrosyan et al. 2021) with a lagged readout."""

import numpy as np
from torch import nn
from torch.nn import functional as F

from ._base import EEGModuleMixin
from ._feature_extractor import front_end

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

    **Defaults: start from the classical features.** By default there is
    one branch per channel and classical band (delta to gamma), each
    starting as that channel's band-pass envelope: at initialisation the
    network computes the log-envelope features of the ridge baseline, and
    training refines every spatial filter from there, with the readout
    re-solved by ridge at the end (:class:`EEG2BoldRegressor`'s
    ``refit_readout``). The band-pass filters stay fixed
    (``learn_temporal="auto"``), so each recording is filtered once per band
    before training (and cached across fits) and only the per-band spatial
    mixing, the envelope and the readout are computed in every epoch,
    instead of a convolution per branch as with ``learn_temporal=True``.
    On a few minutes of data per subject, random spatial filters land
    somewhere new with every seed; starting from the channels both raises
    the score and steadies it. Scores and fit times against the baselines
    and the other networks are measured by ``benchmarks/bench_nn.py`` and
    reported in ``benchmarks/RESULTS.md`` (see the :ref:`network user guide
    <network>`).

    Parameters
    ----------
    n_chans : int, default=30
    n_times : int, default=1000
    n_outputs : int, default=15
    sfreq : float, default=100.0
    n_branches : int or None, default=None
        Number of branches (envelopes); ``None``: one per channel and band
        of ``init_bands`` (150 for 30 channels and the 5 classical bands).
    filter_length : float, default=0.5
    smoothing : float, default=1.0
    learn_smoothing : bool, default=False
    log_envelope : bool, default=True
    init_bands : bool, "canonical" or sequence of (low, high), default="canonical"
    init_spatial : {"random", "channels"}, default="channels"
        See :class:`InterpretableFeatureExtractor`. ``n_branches=30,
        init_bands=True, init_spatial="random"`` gives randomly initialised
        spatial filters over a log-spaced filter bank instead.
    envelope_sfreq : float, default=10.0
        Rate at which the envelopes are smoothed (see
        :class:`InterpretableFeatureExtractor`); the lag bins average them
        anyway, and 10 Hz halves the training time against the full rate.
    learn_temporal : bool or "auto", default="auto"
        See :class:`InterpretableFeatureExtractor`: with the default one
        branch per channel and band, the band-pass filters are fixed.
    n_lags : int, default=10
        Bins the window is averaged into (at most the envelope's samples,
        ``n_times // floor(sfreq / envelope_sfreq)``).
    dropout : float, default=0.5
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

    def __init__(
        self,
        n_chans=30,
        n_times=1000,
        n_outputs=15,
        sfreq=100.0,
        *,
        n_branches=None,
        filter_length=0.5,
        smoothing=1.0,
        learn_smoothing=False,
        log_envelope=True,
        init_bands="canonical",
        init_spatial="channels",
        envelope_sfreq=10.0,
        learn_temporal="auto",
        n_lags=10,
        dropout=0.5,
    ):
        super().__init__()
        self._set_signal_args(n_chans, n_times, n_outputs, sfreq)
        self.feature_extractor = front_end(n_chans, sfreq, locals())
        n_env = self.n_times // self.feature_extractor.decimation
        if not 1 <= n_lags <= n_env:
            raise ValueError(
                f"n_lags must be between 1 and the {n_env} envelope samples of a window "
                f"(n_times={n_times} at {sfreq:g} Hz, envelope_sfreq={envelope_sfreq}), "
                f"got {n_lags}."
            )
        self.n_lags = int(n_lags)
        n_branches = self.feature_extractor.n_branches  # resolves None
        self.norm = nn.BatchNorm1d(n_branches)
        self.drop = nn.Dropout(dropout)
        self.readout = nn.Linear(n_branches * n_lags, n_outputs)

    def forward(self, x, bold=None, **kwargs):
        """Predict ``(batch, n_outputs)``; ``bold`` and routed fit parameters are
        accepted for interchangeability with :class:`EEG2BoldNet` and ignored."""
        return self.readout(self.drop(self.readout_features(x)))

    def readout_features(self, x):
        """Normalised lagged envelopes ``(batch, n_branches * n_lags)``."""
        lagged = F.adaptive_avg_pool1d(self.feature_extractor(x), self.n_lags)
        return self.norm(lagged).flatten(1)

    @property
    def readout_layer(self):
        return self.readout

    def branch_importance(self):
        """Norm of each branch's readout weights over lags and targets ``(n_branches,)``."""
        weight = self.readout.weight.detach().cpu().double().numpy()
        per_branch = weight.reshape(weight.shape[0], -1, self.n_lags)
        return np.sqrt((per_branch**2).sum(axis=(0, 2)))
