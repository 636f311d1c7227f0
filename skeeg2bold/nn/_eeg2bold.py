"""The paper's network (Dagaev, Semenkova & Ossadtchi, Fig. 2)."""

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_int, check_option
from ._base import EEGModuleMixin
from ._decoder import Decoder
from ._encoder import Encoder
from ._feature_extractor import front_end
from ._post_decoder import PostDecoder

__all__ = ["EEG2BoldNet"]


class EEG2BoldNet(EEGModuleMixin, nn.Module):
    """Feature extractor -> EEG encoder -> decoder -> post-decoder, plus a BOLD encoder.

    The interpretable :class:`InterpretableFeatureExtractor` gives one
    envelope per branch; the :class:`Encoder` reduces their rate and embeds
    them; the :class:`Decoder` and :class:`PostDecoder` turn the embeddings
    into a short sequence of ``n_outputs`` BOLD values covering the window.
    The prediction for the window (the BOLD at its end, which
    :func:`~skeeg2bold.make_windows` pairs with it) is that sequence's mean
    or its last sample (``readout``).

    **BOLD encoder (training only).** The paper embeds an interpolated BOLD
    segment with a copy of the EEG encoder and pulls it towards the EEG
    embedding with a CLIP loss. Here each window has one BOLD vector
    ``(n_outputs,)``, so the BOLD encoder is the same architecture applied to
    that vector as a one-token sequence (stride 1). Both embeddings are
    averaged over tokens to ``(batch, embed_dim)``. The BOLD encoder runs
    only when ``bold`` is given in training mode; predictions never use it.

    Parameters
    ----------
    n_chans : int, default=30
    n_times : int, default=1000
        Samples per window (10 s at 100 Hz).
    n_outputs : int, default=15
        Targets: 14 ROIs + the common mode.
    sfreq : float, default=100.0
    n_branches : int or None, default=None
        ``None``: one branch per channel and band of ``init_bands`` (150
        for 30 channels and the 5 classical bands); ``15`` with
        ``init_spatial="random", init_bands=True`` is the paper's front end
        of 15 mixed branches.
    filter_length : float, default=0.5
        Temporal filter length in seconds.
    smoothing : float, default=1.0
        Hamming smoothing window in seconds.
    learn_smoothing : bool, default=False
    log_envelope : bool, default=True
    init_bands : bool, "canonical" or sequence of (low, high), default="canonical"
    init_spatial : {"random", "channels"}, default="channels"
    envelope_sfreq : float or None, default=10.0
    learn_temporal : bool or "auto", default="auto"
        See :class:`InterpretableFeatureExtractor`. The paper starts from
        random filters and takes plain envelopes; on a few minutes of data
        per subject random filters do not find the bands on their own, so
        the defaults start, like :class:`CompactNet`, from every channel's
        log-envelope in every classical band: the band-pass filters stay
        fixed (each recording is filtered once and cached by
        :class:`EEG2BoldRegressor`) and the spatial filters learn. The
        envelopes are smoothed at 10 Hz, which the encoder's tokens
        (``token_period``) coarsen anyway. ``n_branches=15,
        init_spatial="random", init_bands=True, envelope_sfreq=None`` gives
        the former defaults, ``init_bands=False, log_envelope=False`` on top
        the paper's plain front end.
    embed_dim : int, default=16
    n_heads : int, default=4
    n_blocks : int, default=1
        MHA+Conv blocks of each encoder. Small defaults: on a few minutes of
        data per subject, embed_dim=16 with one block scored higher than 32
        with two (benchmarks/bench_nn.py).
    n_decoder_blocks : int, default=1
    kernel_size : int, default=7
        Depthwise kernel of the blocks, in tokens.
    token_period : float, default=0.5
        Seconds per token after the strided convolution (stride =
        ``round(token_period * envelope rate)``).
    output_period : float, default=1.0
        Seconds per sample of the decoded sequence.
    post_hidden : int, default=32
    readout : {"mean", "last"}, default="mean"
        How the decoded sequence gives the window's prediction: the mean
        over the sequence, or its last sample. The defaults of ``readout``,
        ``dropout`` and ``token_period`` were chosen with
        ``benchmarks/bench_nn.py`` on the simulated data.
    dropout : float, default=0.3
    bold_encoder : bool, default=True
        Build the BOLD encoder (needed for a CLIP term in the loss).
    skip_lags : int, default=10
        Adds a linear path beside the encoder and decoder: each branch
        envelope averaged into ``skip_lags`` bins of the window, batch
        normalised and read out linearly (what :class:`CompactNet` does),
        added to the decoded prediction. With ``refit_readout`` the deep
        path's prediction is scaled to the targets by least squares on the
        validation windows (not on the windows it was trained on, where it
        fits too well to be weighed; a scale below zero becomes zero) and
        the linear path is re-solved by ridge on what it leaves, so the deep
        path adds to what a lagged-envelope model finds instead of having to
        rediscover it from a few minutes of data. ``0`` leaves the paper's
        network alone.

    Shape
    -----
    - Input: ``(batch, n_chans, n_times)``; ``bold`` ``(batch, n_outputs)``.
    - Output: ``(batch, n_outputs)``; in training with ``bold``, the tuple
      ``(prediction, eeg_embedding, bold_embedding)``, embeddings
      ``(batch, embed_dim)``.

    Examples
    --------
    >>> import torch
    >>> from skeeg2bold.nn import EEG2BoldNet
    >>> net = EEG2BoldNet(n_chans=8, n_times=200, n_outputs=3, sfreq=50.0,
    ...                   n_branches=4, embed_dim=8, n_heads=2).eval()
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
        embed_dim=16,
        n_heads=4,
        n_blocks=1,
        n_decoder_blocks=1,
        kernel_size=7,
        token_period=0.5,
        output_period=1.0,
        post_hidden=32,
        readout="mean",
        dropout=0.3,
        bold_encoder=True,
        skip_lags=10,
    ):
        super().__init__()
        self._set_signal_args(n_chans, n_times, n_outputs, sfreq)
        self.readout = check_option(readout, ("last", "mean"), "readout")
        n_out_times = max(int(round(n_times / sfreq / output_period)), 1)
        blocks = dict(
            embed_dim=embed_dim, n_heads=n_heads, kernel_size=kernel_size, dropout=dropout
        )
        self.feature_extractor = front_end(n_chans, sfreq, locals())
        decimation = self.feature_extractor.decimation
        stride = max(int(round(token_period * sfreq / decimation)), 1)
        self.eeg_encoder = Encoder(
            self.feature_extractor.n_branches,
            n_times // decimation,
            stride=stride,
            n_blocks=n_blocks,
            **blocks,
        )
        self.decoder = Decoder(
            n_outputs=n_outputs, n_out_times=n_out_times, n_blocks=n_decoder_blocks, **blocks
        )
        self.post_decoder = PostDecoder(n_outputs, post_hidden)
        self.bold_encoder = (
            Encoder(n_outputs, 1, stride=1, n_blocks=n_blocks, **blocks) if bold_encoder else None
        )
        n_env, n_branches = n_times // decimation, self.feature_extractor.n_branches
        # 0: no linear path; at most the envelope samples of a window.
        self.skip_lags = check_int(skip_lags, "skip_lags", min_value=0, max_value=n_env)
        if self.skip_lags:
            self.skip_norm = nn.BatchNorm1d(n_branches)
            self.skip_drop = nn.Dropout(dropout)
            self.skip = nn.Linear(n_branches * self.skip_lags, n_outputs)
        else:
            self.skip = None

    def forward(self, x, bold=None, **kwargs):
        """Predict ``(batch, n_outputs)``; extra keyword arguments (routed fit
        parameters such as ``groups``) are ignored."""
        envelopes = self.feature_extractor(x)
        embedding = self.eeg_encoder(envelopes)
        prediction = self.post_decoder.project(self._pool(self._hidden(embedding)))[..., 0]
        if self.skip is not None:
            prediction = prediction + self.skip(self.skip_drop(self._lagged(envelopes)))
        if bold is None or not self.training or self.bold_encoder is None:
            return prediction
        bold_embedding = self.bold_encoder(bold.reshape(bold.shape[0], -1, 1))
        return prediction, embedding.mean(-1), bold_embedding.mean(-1)

    def _hidden(self, embedding):
        """Post-decoder activations before its last (linear, pointwise) layer."""
        return self.post_decoder.hidden(self.decoder(embedding))

    def _pool(self, hidden):
        # The last layer is linear and pointwise, so pooling the decoded
        # sequence (mean or last sample) before it gives the same prediction.
        return hidden[..., -1:] if self.readout == "last" else hidden.mean(-1, keepdim=True)

    def _lagged(self, envelopes):
        """Normalised envelopes averaged into ``skip_lags`` bins, flattened."""
        return self.skip_norm(F.adaptive_avg_pool1d(envelopes, self.skip_lags)).flatten(1)

    def readout_features(self, x):
        """Inputs of the re-solved readout: the pooled post-decoder activations
        ``(batch, post_hidden)``, or with ``skip_lags > 0`` the lagged envelopes
        of the linear path ``(batch, n_branches * skip_lags)``."""
        envelopes = self.feature_extractor(x)
        if self.skip is not None:
            return self._lagged(envelopes)
        return self._pool(self._hidden(self.eeg_encoder(envelopes)))[..., 0]

    def readout_offset(self, x):
        """With ``skip_lags > 0``: the deep path's prediction ``(batch, n_outputs)``,
        which the re-solved linear readout adds to; ``None`` otherwise."""
        if self.skip is None:
            return None
        embedding = self.eeg_encoder(self.feature_extractor(x))
        return self.post_decoder.project(self._pool(self._hidden(embedding)))[..., 0]

    def scale_offset(self, scale):
        """Multiply the deep path's prediction by ``scale`` ``(n_outputs,)``."""
        layer = self.post_decoder.project
        with torch.no_grad():
            scale = torch.as_tensor(scale).to(layer.weight)
            layer.weight.mul_(scale[:, None, None])
            layer.bias.mul_(scale)

    @property
    def readout_layer(self):
        return self.post_decoder.project if self.skip is None else self.skip
