"""A network that unmixes: log band power of learned spatial filters, per time bin."""

import numpy as np
import torch
from torch import nn

from .._validation import check_int, fourier_band_masks
from ._base import EEGModuleMixin, remove_line
from ._feature_extractor import _check_band_edges

__all__ = ["BandPowerNet"]


class BandPowerNet(EEGModuleMixin, nn.Module):
    """Learned spatial filters per band, log power per time bin, linear readout.

    What the source-power view of EEG-BOLD coupling asks for, as a network:
    each window, its per-channel least-squares line removed
    (:func:`~skeeg2bold.nn.remove_line`: offsets and linear drifts change no
    prediction), is cut into ``n_bins`` contiguous bins ending at its last
    sample; every bin is Hann-tapered and Fourier transformed once; in each
    band, ``n_filters`` learned spatial filters ``w`` project the Fourier
    coefficients, and the log of their mean power,
    ``log(w.T @ C_band @ w)`` with ``C_band`` the band's co-spectral
    covariance (as in :class:`~skeeg2bold.features.BandCovariances`), is one
    feature per filter, band and bin. Batch normalisation, dropout and a
    linear layer map the ``n_bands * n_bins * n_filters`` features to the
    targets. The readout is exposed for
    :class:`~skeeg2bold.nn.EEG2BoldRegressor`'s closed-form re-solve.

    The spatial filters start as the identity (one filter per channel:
    ``n_filters = n_chans``), so the network starts from the log band power
    of every channel; training rotates them towards the sources the targets
    follow. With :class:`~skeeg2bold.features.SubjectAlignment` in front,
    the channels are whitened per subject first, and the starting filters are
    then the whitened channels.

    Parameters
    ----------
    n_chans, n_times, n_outputs : int
    sfreq : float
    bands : sequence of (float, float), default=None
        Band edges (Hz); ``None``: the classical bands (delta to gamma) that
        start below 95 % of Nyquist, as ``init_bands="canonical"`` of
        :class:`InterpretableFeatureExtractor`.
    n_bins : int, default=3
        Time bins per window.
    n_filters : int or None, default=None
        Spatial filters per band; ``None``: ``n_chans`` (identity start).
        Fewer filters start as the first channels.
    dropout : float, default=0.5

    Shape
    -----
    - Input: ``(batch, n_chans, n_times)``
    - Output: ``(batch, n_outputs)``

    Examples
    --------
    >>> import torch
    >>> from skeeg2bold.nn import BandPowerNet
    >>> net = BandPowerNet(n_chans=8, n_times=300, n_outputs=3, sfreq=100.0).eval()
    >>> net(torch.randn(5, 8, 300)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        n_chans=30,
        n_times=1000,
        n_outputs=15,
        sfreq=100.0,
        *,
        bands=None,
        n_bins=3,
        n_filters=None,
        dropout=0.5,
    ):
        super().__init__()
        self._set_signal_args(n_chans, n_times, n_outputs, sfreq)
        self.n_bins = check_int(n_bins, "n_bins", min_value=1, max_value=self.n_times // 2)
        self.bin_samples = self.n_times // self.n_bins
        bands = _check_band_edges("canonical" if bands is None else bands, self.sfreq, "bands")
        masks = fourier_band_masks(
            {f"{lo:g}-{hi:g}Hz": (lo, hi) for lo, hi in bands}, self.bin_samples, self.sfreq
        )
        self.bands = tuple((float(lo), float(hi)) for lo, hi in bands)
        n_filters = self.n_chans if n_filters is None else int(n_filters)
        if not 1 <= n_filters <= self.n_chans:
            raise ValueError(f"n_filters must be in [1, n_chans={self.n_chans}], got {n_filters}.")
        self.n_filters = n_filters
        # One index list of Fourier bins per band, and the Hann taper.
        self._band_bins = [torch.as_tensor(np.flatnonzero(m)) for m in masks]
        self.register_buffer(
            "taper", torch.hann_window(self.bin_samples, periodic=True), persistent=False
        )
        start = torch.eye(self.n_chans)[:, :n_filters]
        self.spatial = nn.Parameter(start.repeat(len(masks), 1, 1))  # (bands, C, K)
        n_features = len(masks) * self.n_bins * n_filters
        self.norm = nn.BatchNorm1d(n_features)
        self.drop = nn.Dropout(dropout)
        self.readout = nn.Linear(n_features, self.n_outputs)

    def forward(self, x, bold=None, **kwargs):
        """Predict ``(batch, n_outputs)``; ``bold`` and routed fit parameters are ignored."""
        return self.readout(self.drop(self.readout_features(x)))

    def band_power(self, x):
        """Log power of every filter, ``(batch, n_bands, n_bins, n_filters)``."""
        n = x.shape[0]
        # Offset and linear drift of the window out first: the Hann taper
        # leaks a drift into every band.
        used = remove_line(x)[..., self.n_times - self.n_bins * self.bin_samples :]
        bins = used.reshape(n, self.n_chans, self.n_bins, self.bin_samples).transpose(1, 2)
        spectra = torch.fft.rfft(bins * self.taper, dim=-1)  # (n, bins, C, F)
        out = []
        for b, index in enumerate(self._band_bins):
            coef = spectra[..., index.to(x.device)]  # (n, bins, C, F_b)
            projected = torch.einsum("ck,ntcf->ntkf", self.spatial[b].to(coef.dtype), coef)
            power = projected.real**2 + projected.imag**2
            out.append(torch.log(power.mean(dim=-1) + 1e-8))
        return torch.stack(out, dim=1)

    def readout_features(self, x):
        """Normalised log powers ``(batch, n_bands * n_bins * n_filters)``."""
        return self.norm(self.band_power(x).flatten(1))

    @property
    def readout_layer(self):
        return self.readout
