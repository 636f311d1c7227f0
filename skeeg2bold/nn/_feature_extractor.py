"""The interpretable front end: spatial filter, temporal filter, envelope."""

import numpy as np
import torch
from scipy.fft import next_fast_len
from torch import nn
from torch.nn import functional as F

from .._constants import DEFAULT_BANDS
from .._validation import check_bands, check_int, check_option, check_positive
from ._base import remove_line

__all__ = ["InterpretableFeatureExtractor"]


class InterpretableFeatureExtractor(nn.Module):
    """Branches of spatial filter -> temporal filter -> rectification -> smoothing.

    Each branch ``k`` computes the envelope of one "virtual source"
    (Petrosyan et al. 2021): a spatial filter ``w_k`` (pointwise convolution
    over channels) picks a source, a temporal FIR filter ``h_k`` (depthwise
    convolution) picks its frequency band, and the absolute value smoothed by
    a Hamming window gives the band's amplitude envelope. Because each stage
    is linear until the rectification, the weights can be turned into spatial
    and spectral patterns (:func:`~skeeg2bold.nn.branch_patterns`).

    Each window's per-channel least-squares line is removed first
    (:func:`~skeeg2bold.nn.remove_line`): a short FIR filter, fixed or
    learned, can pass DC, and a channel's offset or a drift linear over the
    window then changes no envelope.

    Parameters
    ----------
    n_chans : int, default=30
        EEG channels.
    sfreq : float, default=100.0
        Sampling rate of the input in Hz (sets the kernel lengths).
    n_branches : int or None, default=15
        Number of branches (envelopes); 15 in the paper. ``None`` (with
        ``init_spatial="channels"`` and a band list in ``init_bands``): one
        branch per channel and band.
    filter_length : float, default=0.25
        Length of each temporal filter in seconds (odd number of taps).
    smoothing : float, default=0.5
        Length of the Hamming smoothing window in seconds.
    learn_smoothing : bool, default=False
        Learn one smoothing kernel per branch (initialised to the Hamming
        window) instead of the fixed window.
    log_envelope : bool, default=False
        Return ``log(envelope + 1e-4)``. Band power is log-normal and BOLD
        follows log-amplitude more linearly than amplitude, so this helps the
        layers after it; off in the paper.
    init_bands : bool, "canonical" or sequence of (low, high), default=False
        Initialise the temporal filters as band-pass filters (Hamming-window
        FIR) instead of at random: a filter-bank prior that training
        refines. ``True``: centres log-spaced from 2 Hz to 0.4 * ``sfreq``
        (at most 40 Hz), one per branch. ``"canonical"``: the classical
        rhythms of :data:`~skeeg2bold.features.DEFAULT_BANDS` (delta to
        gamma) that start below 95 % of the Nyquist frequency; a sequence:
        those band edges in Hz. Bands are dealt out to
        the branches in turn (with ``init_spatial="channels"``, one band per
        block of ``n_chans`` branches).
    init_spatial : {"random", "channels"}, default="random"
        ``"channels"`` starts branch ``k`` on channel ``k % n_chans`` alone,
        so that with ``n_branches = n_chans * n_bands`` and a band list in
        ``init_bands`` the network starts from every channel's envelope in
        every band (the classical envelope features) and training refines
        the spatial and temporal filters from there.
    envelope_sfreq : float or None, default=None
        Rate of the output envelope. ``None`` keeps ``sfreq``. Otherwise the
        rectified signal is averaged over blocks of ``d = max(1,
        floor(sfreq / envelope_sfreq))`` samples (the window's first
        ``n_times % d`` samples are left out, so the last block ends with the
        window) and smoothed at ``sfreq / d``. An envelope smoothed over
        ``smoothing`` seconds has nothing above a few Hz, so 10 Hz loses
        nothing and makes the smoothing ``d`` times cheaper.
    learn_temporal : bool or "auto", default="auto"
        Train the temporal filters. ``False`` keeps them at their
        initialisation. ``"auto"``: fixed when there is one branch per
        channel and band (``init_spatial="channels"``, a band list in
        ``init_bands`` and ``n_branches = n_chans * n_bands``), where the
        fixed bank already covers every band of every channel; learned
        otherwise, so that fewer branches can still move to the bands that
        matter. With a band list in ``init_bands`` every branch then
        shares one of a few fixed band-pass filters, and since a spatial and
        a temporal linear filter commute, the branch signal ``h_b * (w_k
        x)`` equals ``w_k (h_b * x)``: the channels are band-pass filtered
        once per band (:meth:`prefilter`, which
        :class:`~skeeg2bold.nn.EEG2BoldRegressor` computes once per
        recording and caches) and only the spatial filters learn. Without a
        band list the filters are fixed but no faster.

    Shape
    -----
    - Input: ``(batch, n_chans, n_times)``; when :attr:`band_filters` is
      not ``None`` also the output of :meth:`prefilter` ``(batch, n_bands,
      n_chans, n_times)`` or of :meth:`band_inputs` (a tuple, one tensor per
      band).
    - Output: ``(batch, n_branches, n_times // d)`` (``"same"`` padding;
      ``d = 1`` unless ``envelope_sfreq`` is set)

    Examples
    --------
    >>> import torch
    >>> from skeeg2bold.nn import InterpretableFeatureExtractor
    >>> fe = InterpretableFeatureExtractor(n_chans=8, sfreq=50.0, n_branches=3)
    >>> fe(torch.randn(2, 8, 100)).shape
    torch.Size([2, 3, 100])
    """

    def __init__(
        self,
        n_chans=30,
        sfreq=100.0,
        *,
        n_branches=15,
        filter_length=0.25,
        smoothing=0.5,
        learn_smoothing=False,
        log_envelope=False,
        init_bands=False,
        init_spatial="random",
        envelope_sfreq=None,
        learn_temporal="auto",
    ):
        super().__init__()
        n_taps = _odd_samples(filter_length, sfreq, "filter_length")
        if envelope_sfreq is None:
            self.decimation = 1
        else:
            envelope_sfreq = check_positive(envelope_sfreq, "envelope_sfreq")
            self.decimation = max(1, int(np.floor(sfreq / envelope_sfreq + 1e-9)))
        n_smooth = _odd_samples(smoothing, sfreq / self.decimation, "smoothing")
        init_spatial = check_option(init_spatial, ("random", "channels"), "init_spatial")
        # True: the log-spaced bank; False/None: random filters; else band edges.
        edges = (
            None
            if init_bands is True or init_bands is False or init_bands is None
            else _check_band_edges(init_bands, sfreq)
        )
        if n_branches is None:
            if init_spatial != "channels" or edges is None:
                raise ValueError(
                    "n_branches=None (one branch per channel and band) needs "
                    "init_spatial='channels' and a band list in init_bands ('canonical' or "
                    f"(low, high) pairs); got init_spatial={init_spatial!r}, "
                    f"init_bands={init_bands!r}."
                )
            n_branches = n_chans * len(edges)
        n_branches = check_int(n_branches, "n_branches", min_value=1)
        one_per_channel_and_band = (
            init_spatial == "channels" and edges is not None and n_branches == n_chans * len(edges)
        )
        self.n_branches = n_branches
        self.sfreq = float(sfreq)
        self.log_envelope = bool(log_envelope)
        self.spatial = nn.Conv1d(n_chans, n_branches, kernel_size=1, bias=False)
        self.temporal = nn.Conv1d(
            n_branches,
            n_branches,
            kernel_size=n_taps,
            padding=n_taps // 2,
            groups=n_branches,
            bias=False,
        )
        branches = np.arange(n_branches)
        if init_spatial == "channels":
            with torch.no_grad():
                self.spatial.weight.zero_()
                self.spatial.weight[branches, branches % n_chans, 0] = 1.0
        bank = _band_pass_bank(n_branches, n_taps, sfreq) if init_bands is True else None
        if edges is not None:
            block = branches // n_chans if init_spatial == "channels" else branches
            bank = _band_edges_bank([edges[b % len(edges)] for b in block], n_taps, sfreq)
        if bank is not None:
            with torch.no_grad():
                self.temporal.weight.copy_(bank)
        if isinstance(learn_temporal, str):
            check_option(learn_temporal, ("auto",), "learn_temporal")
            learn_temporal = not one_per_channel_and_band
        self.learn_temporal = bool(learn_temporal)
        self.temporal.weight.requires_grad_(self.learn_temporal)
        # Which fixed band-pass filter each branch uses (None: filters of their own).
        self._band_of_branch = None
        if not self.learn_temporal and edges is not None:
            # Bands numbered in the order of their first branch; unused ones left out.
            used, first, band = np.unique(
                [b % len(edges) for b in block], return_index=True, return_inverse=True
            )
            rank = np.argsort(np.argsort(first))
            self._band_of_branch = rank[band]
            self._first_of_band = np.sort(first)
            self._band_edges = [edges[u] for u in used[np.argsort(first)]]
            self._branches_of_band = [
                torch.as_tensor(np.flatnonzero(self._band_of_branch == b)) for b in range(len(used))
            ]
            order = np.concatenate([idx.numpy() for idx in self._branches_of_band])
            self._inverse = (
                None if np.array_equal(order, branches) else torch.as_tensor(np.argsort(order))
            )
            # The rectified band signal is only averaged over blocks of
            # ``decimation`` samples: every q-th sample of a block is enough
            # when the rate sfreq / q stays above _MIN_RATE_FACTOR times the
            # band's top edge (the harmonics that rectification creates then
            # fold far from the slow envelope).
            self._strides = [
                max(
                    [1]
                    + [
                        q
                        for q in range(2, self.decimation + 1)
                        if self.decimation % q == 0
                        and sfreq / q >= _MIN_RATE_FACTOR * min(high, _top_edge(sfreq))
                    ]
                )
                for _, high in self._band_edges
            ]
        window = torch.as_tensor(
            np.hamming(n_smooth) / np.hamming(n_smooth).sum(), dtype=torch.float32
        )
        window = window.expand(n_branches, 1, n_smooth).clone()
        if learn_smoothing:
            self.smoothing = nn.Parameter(window)
        else:
            self.register_buffer("smoothing", window)

    @property
    def band_filters(self):
        """Fixed band-pass filters ``(n_bands, 1, n_taps)`` shared by the branches.

        ``None`` unless ``learn_temporal=False`` with a band list in
        ``init_bands``; then :meth:`prefilter` applies them and
        :meth:`forward` accepts its output.
        """
        if self._band_of_branch is None:
            return None
        return self.temporal.weight.detach()[torch.as_tensor(self._first_of_band)]

    def prefilter(self, x):
        """Each channel band-pass filtered by each fixed filter.

        Parameters
        ----------
        x : Tensor of shape (batch, n_chans, n_times)

        Returns
        -------
        Tensor of shape (batch, n_bands, n_chans, n_times)
            The same zero-padded ``"same"`` convolution as the temporal
            layer, of each window with its per-channel least-squares line
            removed (:func:`~skeeg2bold.nn.remove_line`); :meth:`forward` of
            this gives ``forward(x)``.
        """
        bank = self.band_filters
        if bank is None:
            raise ValueError(
                "prefilter needs fixed shared filters: learn_temporal=False and a band "
                "list in init_bands ('canonical' or (low, high) pairs)."
            )
        return filter_bank_same_conv(remove_line(x), bank)

    def band_slices(self, n_times):
        """Samples of a window each band's rectified signal is read at.

        Returns
        -------
        list of slice
            One per band of :attr:`band_filters`: every ``q``-th sample of
            each envelope block (``q = 1`` when the band's top edge needs the
            full rate), so that block averages of the subsampled rectified
            signal stand for those of the full one.
        """
        offset = n_times % self.decimation
        return [slice(offset + q - 1, n_times, q) for q in self._strides]

    def band_inputs(self, x):
        """Band-passed channels at the samples :meth:`forward` reads, per band.

        Parameters
        ----------
        x : Tensor of shape (batch, n_chans, n_times) or (batch, n_bands, n_chans, n_times)
            Raw windows, or the output of :meth:`prefilter`.

        Returns
        -------
        tuple of Tensor of shape (batch, n_chans, n_samples_b)
        """
        if self._band_of_branch is None:
            raise ValueError("band_inputs needs fixed shared filters (see prefilter).")
        if x.ndim == 3:
            x = self.prefilter(x)
        return tuple(x[:, b, :, sl] for b, sl in enumerate(self.band_slices(x.shape[-1])))

    def filtered(self, x):
        """Spatially and temporally filtered signal ``(batch, n_branches, n_times)``.

        ``x`` is raw ``(batch, n_chans, n_times)`` or, with fixed band
        filters, already band-passed ``(batch, n_bands, n_chans, n_times)``.
        Raw windows have their per-channel least-squares line removed first
        (:func:`~skeeg2bold.nn.remove_line`), so that no temporal filter,
        fixed or learned, sees a DC offset or a linear drift.
        """
        if self._band_of_branch is None:
            return depthwise_same_conv(self.spatial(remove_line(x)), self.temporal.weight)
        if x.ndim == 3:
            x = self.prefilter(x)
        # Spatial filters applied to the band-passed channels: w_k (h_b * x).
        weight = self.spatial.weight[:, :, 0]
        out = torch.cat(
            [
                torch.einsum("kc,nct->nkt", weight[idx], x[:, b])
                for b, idx in enumerate(self._branches_of_band)
            ],
            dim=1,
        )
        return out if self._inverse is None else out[:, self._inverse]

    def _rectified_blocks(self, x):
        """Block averages of the rectified branch signals ``(batch, n_branches, n_env)``."""
        d = self.decimation
        if self._band_of_branch is None:
            rectified = self.filtered(x).abs()
            return (
                F.avg_pool1d(rectified[..., rectified.shape[-1] % d :], d) if d > 1 else rectified
            )
        if not isinstance(x, (tuple, list)):
            x = self.band_inputs(x)
        weight = self.spatial.weight[:, :, 0]
        blocks = []
        for idx, q, xb in zip(self._branches_of_band, self._strides, x):
            rectified = torch.einsum("kc,nct->nkt", weight[idx], xb).abs()
            # Reading exactly n_env blocks (band_slices): a reshaped mean, whose
            # backward is a broadcast, costs less than avg_pool1d's.
            blocks.append(rectified.unflatten(-1, (-1, d // q)).mean(-1) if d > q else rectified)
        out = torch.cat(blocks, dim=1)
        return out if self._inverse is None else out[:, self._inverse]

    def forward(self, x):
        envelope = depthwise_same_conv(self._rectified_blocks(x), self.smoothing)
        return torch.log(envelope + 1e-4) if self.log_envelope else envelope


# Kept over F.conv1d: for 64 windows of 30 x 1000 samples and 51 taps,
# forward plus backward on one core measured 155-200 ms with F.conv1d and
# 24-36 ms here, about 6x (benchmarks/bench_nn.py times the whole network).
def depthwise_same_conv(x, kernel):
    """``F.conv1d(x, kernel, padding=K // 2, groups=C)`` computed with the FFT.

    Hand-written because torch's grouped (depthwise) convolution is slow on
    CPU. The FFT length is a fast size of at least ``n_times + K - 1``, so
    the linear convolution does not wrap; outputs agree with ``F.conv1d`` to
    float32 rounding.

    Parameters
    ----------
    x : Tensor of shape (batch, C, n_times)
    kernel : Tensor of shape (C, 1, K), K odd

    Returns
    -------
    Tensor of shape (batch, C, n_times)
    """
    n_times, n_taps = x.shape[-1], kernel.shape[-1]
    nfft = next_fast_len(n_times + n_taps - 1, real=True)
    # conv1d is a cross-correlation: a convolution with the reversed kernel.
    spectrum = torch.fft.rfft(x, nfft) * torch.fft.rfft(kernel[:, 0].flip(-1), nfft)
    return torch.fft.irfft(spectrum, nfft)[..., n_taps // 2 : n_taps // 2 + n_times]


def filter_bank_same_conv(x, bank):
    """Every signal of ``x`` through every filter of ``bank`` (centred, zero-padded).

    The FFT of each signal is taken once for all filters; each output equals
    :func:`depthwise_same_conv` of that signal with that filter.

    Parameters
    ----------
    x : Tensor of shape (..., C, n_times)
    bank : Tensor of shape (n_filters, 1, K), K odd

    Returns
    -------
    Tensor of shape (..., n_filters, C, n_times)
    """
    n_times, n_taps = x.shape[-1], bank.shape[-1]
    nfft = next_fast_len(n_times + n_taps - 1, real=True)
    spectra = torch.fft.rfft(bank[:, 0].flip(-1), nfft)[:, None, :]  # (F, 1, nfft // 2 + 1)
    spectrum = torch.fft.rfft(x, nfft).unsqueeze(-3) * spectra
    return torch.fft.irfft(spectrum, nfft)[..., n_taps // 2 : n_taps // 2 + n_times]


#: Lowest rate, in multiples of a band's top edge, its rectified signal is read at.
_MIN_RATE_FACTOR = 3.5


def _top_edge(sfreq):
    """Highest band edge the FIR filters are designed to: 95 % of the Nyquist frequency."""
    return 0.95 * sfreq / 2


def _band_pass_bank(n_branches, n_taps, sfreq):
    """FIR band-pass filters ``(n_branches, 1, n_taps)``, log-spaced centres, unit gain."""
    centres = np.geomspace(2.0, min(40.0, 0.4 * sfreq), n_branches)
    edges = []
    for centre in centres:
        # Bandwidth: half an octave each side, but no narrower than the
        # filter's resolution (a short filter cannot be sharp).
        half = max(0.35 * centre, 1.5 * sfreq / n_taps)
        low, high = max(centre - half, 0.5), min(centre + half, _top_edge(sfreq))
        edges.append((low if low > 0.5 else None, high))  # None: low-pass
    return _band_edges_bank(edges, n_taps, sfreq)


#: The front-end arguments :class:`CompactNet` and :class:`EEG2BoldNet` share,
#: with their defaults: both pass them to :class:`InterpretableFeatureExtractor`
#: through :func:`front_end` (their signatures repeat them, as scikit-learn's
#: ``get_params`` reads explicit arguments; a test holds the defaults equal).
FRONT_END_DEFAULTS = dict(
    n_branches=None,
    filter_length=0.5,
    smoothing=1.0,
    learn_smoothing=False,
    log_envelope=True,
    init_bands="canonical",
    init_spatial="channels",
    envelope_sfreq=10.0,
    learn_temporal="auto",
)


def front_end(n_chans, sfreq, arguments):
    """The networks' :class:`InterpretableFeatureExtractor` from their arguments.

    ``arguments``: the caller's ``locals()``; the keys of
    :data:`FRONT_END_DEFAULTS` are taken from it.
    """
    return InterpretableFeatureExtractor(
        n_chans, sfreq, **{name: arguments[name] for name in FRONT_END_DEFAULTS}
    )


def _check_band_edges(bands, sfreq, name="init_bands"):
    """``bands`` as a list of (low, high) pairs, checked by :func:`check_bands`.

    ``"canonical"``: the rhythms of :data:`DEFAULT_BANDS` that start below
    95 % of the Nyquist frequency (no gamma at 50 Hz), the top one ending
    there at the latest.
    """
    if isinstance(bands, str):
        if bands != "canonical":
            raise ValueError(
                f"{name} must be True, False, 'canonical' or a sequence of (low, high) "
                f"band edges in Hz, got {bands!r}."
            )
        top = _top_edge(sfreq)
        bands = [(lo, min(hi, top)) for lo, hi in DEFAULT_BANDS.values() if lo < top]
    return list(check_bands(bands, sfreq, name).values())


def _band_edges_bank(edges, n_taps, sfreq):
    """FIR filters ``(len(edges), 1, n_taps)`` for (low, high) pairs; ``low=None``: low-pass."""
    from scipy.signal import firwin

    top = _top_edge(sfreq)
    taps = [
        firwin(n_taps, min(high, top), fs=sfreq)
        if low is None
        else firwin(n_taps, [low, min(high, top)], fs=sfreq, pass_zero=False)
        for low, high in edges
    ]
    return torch.as_tensor(np.array(taps)[:, None, :], dtype=torch.float32)


def _odd_samples(seconds, sfreq, name):
    """Odd kernel length (centred, so "same" padding keeps the timing) of at least 1."""
    if not seconds > 0:
        raise ValueError(f"{name} must be > 0 seconds, got {seconds!r}.")
    n = max(int(round(seconds * sfreq)), 1)
    return n if n % 2 else n + 1
