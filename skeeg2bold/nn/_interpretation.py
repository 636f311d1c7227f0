"""What each feature-extractor branch listens to: spatial and spectral patterns.

Weights of a spatial filter are not where the source is: a filter also
cancels noise, so its weights mix the source's topography with the inverse
noise covariance. Haufe et al. (2014) recover the *pattern* as the data
covariance times the filter; Petrosyan et al. (2021) extend this to the
branches of a compact network: the spatial pattern uses the covariance of the
data after the branch's temporal filter, and the temporal pattern is the
filter's frequency response weighted by the spectrum of the spatially
filtered signal.
"""

import numpy as np
from sklearn.utils import Bunch

from .._constants import DEFAULT_BANDS
from .._validation import check_int

__all__ = ["branch_patterns", "plot_branch_patterns"]

#: Windows used for the cross-spectra; enough for smooth spectra at little cost.
_N_SPECTRUM_WINDOWS = 256


def _module(model):
    # A SeedEnsembleRegressor of networks: its first member stands for it.
    members = getattr(model, "estimators_", None)
    if members:
        model = members[0]
    return getattr(model, "module_", model)


def _feature_extractor(model):
    module = _module(model)
    extractor = getattr(module, "feature_extractor", None)
    if extractor is None:
        raise TypeError(
            "model must be a fitted EEG2BoldRegressor or a network with a "
            f"feature_extractor (EEG2BoldNet, CompactNet); got {type(model).__name__}."
        )
    return extractor


def _cross_spectra(X, n_windows):
    """Hann-tapered cross-spectral matrices ``(n_freqs, n_chans, n_chans)``."""
    idx = np.linspace(0, len(X) - 1, min(len(X), n_windows)).astype(int)
    data = np.asarray(X[idx], dtype=np.float64)
    data = data - data.mean(axis=2, keepdims=True)
    spectra = np.fft.rfft(data * np.hanning(data.shape[2]), axis=2)
    return np.einsum("ncf,ndf->fcd", spectra, spectra.conj()) / len(idx)


def branch_patterns(model, X, *, sfreq=None, info=None):
    """Spatial and temporal patterns of every feature-extractor branch.

    Parameters
    ----------
    model : EEG2BoldRegressor or torch.nn.Module
        A fitted regressor, or a network with a ``feature_extractor``
        (:class:`EEG2BoldNet`, :class:`CompactNet`).
    X : EEGWindows or ndarray of shape (n_windows, n_chans, n_times)
        EEG the patterns are computed on (typically the training windows);
        up to 256 evenly spaced windows are used.
    sfreq : float, default=None
        Sampling rate; from ``X.sfreq`` or the model when omitted.
    info : mne.Info, default=None
        Kept in the result for :func:`plot_branch_patterns` (montage).

    Returns
    -------
    patterns : sklearn.utils.Bunch
        ``spatial_patterns`` : ndarray of shape (n_branches, n_chans)
            Covariance of the temporally filtered input times the spatial
            filter: where each branch's source projects on the scalp.
        ``spatial_filters`` : ndarray of shape (n_branches, n_chans)
            The raw weights, for comparison.
        ``freqs`` : ndarray of shape (n_freqs,)
            Frequencies (Hz) of the spectra.
        ``frequency_responses`` : ndarray of shape (n_branches, n_freqs)
            Magnitude response of each temporal filter.
        ``input_spectra`` : ndarray of shape (n_branches, n_freqs)
            Power spectrum of each spatially filtered input.
        ``temporal_patterns`` : ndarray of shape (n_branches, n_freqs)
            ``frequency_responses * input_spectra``, each scaled to a maximum
            of 1: the band each branch extracts from the data.
        ``importance`` : ndarray of shape (n_branches,) or None
            Weight of each branch in the network's linear readout (norm of
            its readout weights over lags and targets, on normalised
            envelopes), for networks whose readout reads the branches
            directly (:class:`CompactNet`); ``None`` otherwise.
        ``ch_names``, ``info``
            Channel names and measurement info, for the topomaps.

    A :class:`~skeeg2bold.ensemble.SeedEnsembleRegressor` of networks is
    described by its first member.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.nn import CompactNet, branch_patterns
    >>> net = CompactNet(n_chans=4, n_times=100, n_outputs=1, sfreq=50.0, n_branches=2)
    >>> X = np.random.default_rng(0).standard_normal((20, 4, 100))
    >>> branch_patterns(net, X).spatial_patterns.shape
    (2, 4)
    """
    extractor = _feature_extractor(model)
    if sfreq is None:
        sfreq = getattr(X, "sfreq", None) or extractor.sfreq
    weights = extractor.spatial.weight.detach().cpu().double().numpy()[:, :, 0]
    taps = extractor.temporal.weight.detach().cpu().double().numpy()[:, 0, :]
    X_shape = np.shape(X)
    if len(X_shape) != 3 or X_shape[1] != weights.shape[1]:
        raise ValueError(
            f"X must have shape (n_windows, {weights.shape[1]}, n_times) for this "
            f"model, got {X_shape}."
        )
    if X_shape[2] < taps.shape[1]:
        raise ValueError(
            f"windows of {X_shape[2]} samples are shorter than the temporal filters "
            f"({taps.shape[1]} taps)."
        )
    csd = _cross_spectra(X, _N_SPECTRUM_WINDOWS)
    freqs = np.fft.rfftfreq(X_shape[2], 1.0 / sfreq)
    response = np.abs(np.fft.rfft(taps, n=X_shape[2], axis=1))
    # Covariance after temporal filtering = sum over frequencies of |H|^2 * CSD
    # (Parseval), so one cross-spectrum serves every branch.
    filtered_cov = np.einsum("kf,fcd->kcd", response**2, csd.real)
    spatial_patterns = np.einsum("kcd,kd->kc", filtered_cov, weights)
    input_spectra = np.einsum("kc,fcd,kd->kf", weights, csd.real, weights)
    temporal = response * input_spectra
    temporal /= np.maximum(temporal.max(axis=1, keepdims=True), np.finfo(float).tiny)
    ch_names = getattr(X, "ch_names", None) or getattr(model, "ch_names_", None)
    return Bunch(
        spatial_patterns=spatial_patterns,
        spatial_filters=weights,
        freqs=freqs,
        frequency_responses=response,
        input_spectra=input_spectra,
        temporal_patterns=temporal,
        importance=_importance(_module(model)),
        ch_names=None if ch_names is None else list(ch_names),
        info=info,
    )


def _importance(module):
    method = getattr(module, "branch_importance", None)
    return None if method is None else method()


def _plot_info(patterns, info):
    import mne

    info = info if info is not None else patterns.get("info")
    if info is None:
        if patterns.get("ch_names") is None:
            raise ValueError(
                "plot_branch_patterns needs sensor positions: pass info= (an mne.Info "
                "with a montage) or compute the patterns on EEGWindows with channel names."
            )
        info = mne.create_info(patterns["ch_names"], 100.0, ch_types="eeg")
        info.set_montage("colin27_1020", on_missing="raise")
    n_chans = patterns["spatial_patterns"].shape[1]
    if len(info["ch_names"]) != n_chans:
        raise ValueError(f"info has {len(info['ch_names'])} channels, the patterns {n_chans}.")
    return info


def plot_branch_patterns(
    patterns,
    info=None,
    *,
    branches=None,
    max_branches=12,
    fmax=None,
    n_cols=3,
    title=None,
    show=True,
):
    """Topomap of each branch's spatial pattern beside its temporal pattern.

    Parameters
    ----------
    patterns : Bunch
        Output of :func:`branch_patterns`.
    info : mne.Info, default=None
        Channel positions. Defaults to ``patterns.info``, else a standard
        10-20 montage for ``patterns.ch_names``.
    branches : list of int, default=None
        Branches to draw. By default all of them, or, past ``max_branches``,
        the ``max_branches`` most important ones (``patterns.importance``)
        or the first ones when the importance is unknown.
    max_branches : int, default=12
        Most branches drawn when ``branches`` is None.
    fmax : float, default=None
        Highest frequency shown (Nyquist by default).
    n_cols : int, default=3
        Branches per row of the figure (the paper's Fig. 4 is a grid).
    title : str, default=None
        Title of the figure, e.g. which model it shows.
    show : bool, default=True

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel pair per branch: topomap with its colour bar (left),
        titled with the branch, its weight, the channel where its pattern
        peaks and its filter's pass band (above half the peak response,
        named after the rhythm holding the peak); temporal pattern and
        filter response (right).
    """
    import matplotlib.pyplot as plt
    import mne

    info = _plot_info(patterns, info)
    n_branches = patterns["spatial_patterns"].shape[0]
    importance = patterns.get("importance")
    max_branches = check_int(max_branches, "max_branches", min_value=1)
    if branches is None:
        branches = list(range(n_branches))
        if n_branches > max_branches:
            order = (
                np.argsort(-np.asarray(importance), kind="stable")
                if importance is not None
                else np.arange(n_branches)
            )
            branches = [int(b) for b in order[:max_branches]]
    branches = list(branches)
    bad = [b for b in branches if not 0 <= b < n_branches]
    if bad:
        raise ValueError(f"branches {bad} do not exist; the model has {n_branches}.")
    freqs = patterns["freqs"]
    keep = freqs <= (fmax if fmax is not None else freqs[-1])
    n_cols = min(check_int(n_cols, "n_cols", min_value=1), len(branches))
    n_rows = -(-len(branches) // n_cols)
    fig, axes = plt.subplots(
        n_rows,
        2 * n_cols,
        figsize=(5.6 * n_cols, 1.9 * n_rows + 0.4),
        gridspec_kw=dict(width_ratios=[1, 2.2] * n_cols),
        squeeze=False,
        layout="constrained",
    )
    pairs = [
        axes[k // n_cols, 2 * (k % n_cols) : 2 * (k % n_cols) + 2] for k in range(n_rows * n_cols)
    ]
    for pair in pairs[len(branches) :]:
        pair[0].set_axis_off()
        pair[1].set_axis_off()
    for row, b in zip(pairs, branches):
        pattern = patterns["spatial_patterns"][b]
        vmax = np.abs(pattern).max()
        image, _ = mne.viz.plot_topomap(
            pattern, info, axes=row[0], show=False, cmap="RdBu_r", vlim=(-vmax, vmax), contours=0
        )
        bar = fig.colorbar(image, ax=row[0], shrink=0.7, pad=0.02)
        bar.ax.tick_params(labelsize=6)
        bar.set_label("pattern (a.u.)", fontsize=6)
        label = f"branch {b}"
        if importance is not None:
            label += f" (weight {importance[b] / max(np.max(importance), 1e-300):.2f})"
        response = patterns["frequency_responses"][b]
        peak = info.ch_names[int(np.argmax(np.abs(pattern)))]
        # On the wider spectrum axes: over the small topomap, the title is cut at the edge.
        row[1].set_title(
            f"{label}: peak {peak}, {_band_label(freqs, response)}", loc="left", fontsize=8
        )
        row[1].plot(freqs[keep], patterns["temporal_patterns"][b][keep], label="pattern")
        row[1].plot(
            freqs[keep],
            response[keep] / max(response.max(), np.finfo(float).tiny),
            "--",
            color="0.5",
            label="filter",
        )
        row[1].set_xlim(freqs[keep][0], freqs[keep][-1])
        row[1].set_yticks([])
        row[1].tick_params(labelsize=7)
    for col in range(n_cols):
        bottom = max(k for k in range(len(branches)) if k % n_cols == col)
        pairs[bottom][1].set_xlabel("Frequency (Hz)", fontsize=8)
    pairs[0][1].legend(fontsize=7, frameon=False)
    if title is not None:
        fig.suptitle(title, fontsize=10)
    if show:
        plt.show()
    return fig


def _band_label(freqs, response):
    """``"alpha 8-13 Hz"``: the pass band of a filter response (above half its
    peak), named after the rhythm of :data:`DEFAULT_BANDS` holding the peak."""
    passing = freqs[response >= 0.5 * response.max()]
    peak = freqs[int(np.argmax(response))]
    name = next((n for n, (lo, hi) in DEFAULT_BANDS.items() if lo <= peak < hi), "")
    return f"{name} {passing.min():.0f}-{passing.max():.0f} Hz".strip()
