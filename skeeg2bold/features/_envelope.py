"""Band-limited amplitude envelopes of EEG windows: the fixed-filter front end."""

import functools
import math

import numpy as np
import scipy.fft as sp_fft
import scipy.sparse as sp_sparse
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._constants import DEFAULT_BANDS
from .._validation import (
    check_bands,
    check_eeg_windows_array,
    check_fitted_windows,
    check_option,
    check_positive,
    fit_sfreq,
)
from .._windows import EEGWindows
from ..utils._docs import fill_doc

__all__ = ["EnvelopeFeatureExtractor", "DEFAULT_BANDS"]

# Frequency bins where a band-pass response is below this (-60 dB) are
# dropped before the inverse FFT; MNE's Hamming-windowed firwin filters have
# -53 dB side lobes, so this keeps everything the filter passes.
_RESPONSE_FLOOR = 1e-3
# Internal rate of each band's envelope, as a multiple of the highest
# frequency the band filter passes. The analytic signal is exact at any rate
# above that frequency; the extra factor keeps the smoothing sum of |z| (and
# of the harmonics that rectification creates) accurate to ~1e-3.
_OVERSAMPLE = {"hilbert": 4.0, "rectify": 8.0}
# Minimum number of internal samples per smoothing window.
_MIN_SMOOTHING_TAPS = 16
# Upper bound on the bytes of one batch of spectra (plain-array input).
_CHUNK_BYTES = 64 * 2**20


class EnvelopeFeatureExtractor(TransformerMixin, BaseEstimator):
    """Band-pass envelopes of EEG windows, as lagged features or time series.

    The fixed-filter version of the paper's interpretable front end: each
    channel is band-pass filtered in every band of a filter bank (MNE's
    zero-phase FIR design), turned into an amplitude envelope (Hilbert
    magnitude, or rectification as in the paper's network), smoothed with a
    Hamming window and read out at a low rate, counted back from the end of
    each window.

    When ``X`` is an :class:`~skeeg2bold.EEGWindows` (what
    :func:`~skeeg2bold.make_windows` returns), each recording's continuous
    EEG is filtered once and the envelopes are read at every window's
    samples: no edge effects and no repeated work for overlapping windows.
    A plain array is filtered window by window (reflection-padded), batched
    over windows and channels.

    Parameters
    ----------
    sfreq : float, default=None
        EEG sampling rate (Hz). Taken from ``X.sfreq`` for
        :class:`~skeeg2bold.EEGWindows`; required for plain arrays. If both
        are given they must agree.
    bands : dict or list of (float, float), default=None
        Filter bank: ``{"alpha": (8, 13), ...}`` or a list of ``(l_freq,
        h_freq)`` pairs (named ``"8-13Hz"``). ``None`` uses
        :data:`DEFAULT_BANDS` (delta 1-4, theta 4-8, alpha 8-13, beta 13-30,
        gamma 30-45 Hz). Edges must satisfy ``0 < l_freq < h_freq < sfreq/2``.
    envelope : {"hilbert", "rectify"}, default="hilbert"
        ``"hilbert"``: magnitude of the analytic signal. ``"rectify"``:
        absolute value of the band-passed signal, as in the paper's network.
    smoothing : float or None, default=1.0
        Length (s) of the Hamming window the envelope is smoothed with,
        centred on each read-out time. ``None`` reads the raw envelope.
    out_sfreq : float, default=2.0
        Read-out rate (Hz): envelope samples every ``1 / out_sfreq`` s going
        back from the window's last sample.
    lags : array-like of float or None, default=None
        ``layout="lagged"`` only: delays (s, >= 0) before the window's last
        sample at which the envelope is read; ``None`` reads every sample of
        the ``out_sfreq`` grid that fits in the window.
    layout : {"lagged", "series"}, default="lagged"
        ``"lagged"``: 2-D ``(n_windows, n_channels * n_bands * n_lags)`` for
        linear models. ``"series"``: 3-D ``(n_windows, n_channels * n_bands,
        n_out)``, envelopes on the ``out_sfreq`` grid in time order ending at
        the window's last sample (the input of
        :class:`~skeeg2bold.features.HRFConvolution`).
    log : bool, default=False
        Take the natural log of the envelopes (log-amplitude).
    standardize : bool, default=False
        Z-score every channel-band envelope with the mean and standard
        deviation over the fitted windows.
    n_jobs : int, default=None
        Threads (joblib) working on recordings, or on batches of windows for
        plain arrays, in parallel. The FFTs and array operations release
        the GIL, so threads avoid copying the EEG to worker processes.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation and of the output. Single precision is
        ample for envelopes and halves memory and FFT time.

    Attributes
    ----------
    sfreq_ : float
        Sampling rate used.
    bands_ : dict
        Band name -> ``(l_freq, h_freq)``.
    lags_ : ndarray of shape (n_lags,)
        Delay (s) of each read-out before the window's last sample; for
        ``layout="series"`` decreasing, so that time increases.
    ch_names_ : list of str
        Channel names (from ``X.ch_names``, else ``"ch0", "ch1", ...``).
        When fitted on named windows, ``transform`` puts named windows'
        channels in this order and refuses plain arrays, whose channel order
        it cannot check (see :meth:`~skeeg2bold.EEGWindows.from_array`).
    n_channels_ : int
    n_features_in_ : int
        Same as ``n_channels_``: scikit-learn's name for the input width.
    n_times_ : int
        Samples per window.
    mean_, scale_ : ndarray of shape (n_channels, n_bands)
        Envelope statistics (only with ``standardize=True``).

    See Also
    --------
    HRFConvolution : Canonical haemodynamic response on the envelope series.
    skeeg2bold.baselines.make_ridge_baseline : Lagged envelopes and ridge.

    Notes
    -----
    Equivalent to filtering with :func:`mne.filter.filter_data` (default FIR
    design), :func:`scipy.signal.hilbert`, smoothing and decimation, but
    computed in the frequency domain: one FFT of the EEG serves every band,
    and each band's analytic signal is brought back only at a rate a few
    times its highest frequency (a shorter inverse FFT), since the envelope
    needs no more. The smoothing window is evaluated at exactly the read-out
    times, so no rounding to a common grid shifts the windows.

    The centred smoothing (and the zero-phase filters) look up to about half
    a smoothing window plus half a filter length past the window's end; with
    :class:`~skeeg2bold.EEGWindows` that is recorded EEG, with plain arrays
    a reflection of the window.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.features import EnvelopeFeatureExtractor
    >>> X = np.random.default_rng(0).standard_normal((4, 2, 1000))
    >>> ext = EnvelopeFeatureExtractor(sfreq=100.0, bands={"alpha": (8, 13)},
    ...                                lags=[0.0, 1.0, 2.0])
    >>> ext.fit_transform(X).shape
    (4, 6)
    >>> ext.get_feature_names_out()[:3].tolist()
    ['ch0_alpha_t-0.0s', 'ch0_alpha_t-1.0s', 'ch0_alpha_t-2.0s']
    """

    def __init__(
        self,
        sfreq=None,
        bands=None,
        envelope="hilbert",
        smoothing=1.0,
        out_sfreq=2.0,
        lags=None,
        layout="lagged",
        log=False,
        standardize=False,
        n_jobs=None,
        dtype="float32",
    ):
        self.sfreq = sfreq
        self.bands = bands
        self.envelope = envelope
        self.smoothing = smoothing
        self.out_sfreq = out_sfreq
        self.lags = lags
        self.layout = layout
        self.log = log
        self.standardize = standardize
        self.n_jobs = n_jobs
        self.dtype = dtype

    @fill_doc
    def fit(self, X, y=None):
        """Check the parameters against ``X`` and learn the scaling if asked.

        Parameters
        ----------
        %(X_windows)s
        %(y_ignored)s

        Returns
        -------
        self : EnvelopeFeatureExtractor
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit and return the features of ``X`` (envelopes computed once)."""
        X, envelopes = self._fit(X)
        return self._finish(X, envelopes)

    @fill_doc
    def transform(self, X):
        """Envelope features of every window.

        Parameters
        ----------
        %(X_windows)s

        Returns
        -------
        features : ndarray of shape (n_windows, n_channels * n_bands * n_lags)
            or (n_windows, n_channels * n_bands, n_out) for
            ``layout="series"``, then an ndarray that also carries its rate
            (``features.sfreq == out_sfreq``).
        """
        check_is_fitted(self, "lags_")
        X = _check_windows(X)
        X = check_fitted_windows(
            X,
            self,
            n_channels=self.n_channels_,
            n_times=self.n_times_,
            sfreq=self.sfreq_,
            ch_names=self.ch_names_ if self._names_known else None,
            reorder=True,
        )
        return self._finish(X)

    def get_feature_names_out(self, input_features=None):
        """Feature names: ``"<channel>_<band>_t-<lag>s"`` (``"<channel>_<band>"``
        for ``layout="series"``, naming the second axis).

        Parameters
        ----------
        input_features : list of str, default=None
            Channel names to use instead of :attr:`ch_names_`.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "lags_")
        channels = self.ch_names_
        if input_features is not None:
            channels = [str(c) for c in input_features]
            if len(channels) != self.n_channels_:
                raise ValueError(
                    f"input_features has {len(channels)} names but the extractor was "
                    f"fitted on {self.n_channels_} channels."
                )
        pairs = [f"{c}_{b}" for c in channels for b in self.bands_]
        if self.layout == "series":
            return np.asarray(pairs, dtype=object)
        lags = [_format_seconds(lag) for lag in self.lags_]
        return np.asarray([f"{p}_t-{lag}s" for p in pairs for lag in lags], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        try:  # the output has the dtype parameter's type, whatever the input's
            tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name]
        except TypeError:  # an invalid dtype is reported by fit
            tags.transformer_tags.preserves_dtype = []
        return tags

    # -- internals --------------------------------------------------------
    def _fit(self, X):
        X = _check_windows(X)
        n_channels, n_times = X.shape[1:]
        sfreq = fit_sfreq(self.sfreq, X, "EnvelopeFeatureExtractor")
        if isinstance(X, EEGWindows):
            self.ch_names_ = list(X.ch_names)
            self._names_known = True
        else:
            self.ch_names_ = [f"ch{i}" for i in range(n_channels)]
            self._names_known = False
        self.sfreq_ = sfreq
        self.n_channels_ = self.n_features_in_ = n_channels
        self.n_times_ = n_times
        check_option(self.layout, ("lagged", "series"), "layout")
        self.bands_ = _check_bands(self.bands, sfreq)
        self.lags_ = self._check_lags(sfreq, n_times)
        self._plan = _Plan.make(
            sfreq, self.bands_, self.envelope, self.smoothing, n_times, self.dtype
        )
        if self.standardize:
            envelopes = self._envelopes(X)
            self.mean_ = envelopes.mean(axis=(0, 3), dtype=np.float64)
            scale = envelopes.std(axis=(0, 3), dtype=np.float64)
            self.scale_ = np.where(scale > 0, scale, 1.0)
            return X, envelopes
        return X, None

    def _check_lags(self, sfreq, n_times):
        out_sfreq = check_positive(self.out_sfreq, "out_sfreq")
        if out_sfreq > sfreq:
            raise ValueError(f"out_sfreq={out_sfreq:g} exceeds sfreq={sfreq:g}.")
        longest = (n_times - 1) / sfreq
        if self.lags is None or self.layout == "series":
            if self.lags is not None:
                raise ValueError(
                    "lags applies to layout='lagged' only; the series layout reads the "
                    "whole out_sfreq grid of the window (leave lags=None)."
                )
            n_out = int(math.floor(longest * out_sfreq + 1e-9)) + 1
            grid = np.arange(n_out) / out_sfreq
            return grid[::-1].copy() if self.layout == "series" else grid
        lags = np.atleast_1d(np.asarray(self.lags, dtype=float))
        if lags.ndim != 1 or lags.size == 0 or not np.all(np.isfinite(lags)):
            raise ValueError(f"lags must be a non-empty 1-D array of seconds, got {self.lags!r}.")
        if lags.min() < 0 or lags.max() > longest + 1e-9:
            raise ValueError(
                f"lags must lie in [0, {longest:g}] s (inside a {n_times}-sample window "
                f"at {sfreq:g} Hz), got values from {lags.min():g} to {lags.max():g} s."
            )
        if np.unique(lags).size != lags.size:
            raise ValueError(f"lags contains duplicates: {self.lags!r}.")
        return lags

    def _envelopes(self, X):
        """Raw (log) envelopes, shape (n_windows, n_channels, n_bands, n_lags)."""
        plan, lag_samples = self._plan, self.lags_ * self.sfreq_
        if isinstance(X, EEGWindows):
            out = np.empty(
                (len(X), X.shape[1], len(plan.bands), lag_samples.size), dtype=plan.dtype
            )
            segments = list(X.iter_segments())
            results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(_recording_envelopes)(eeg, starts, X.n_times, lag_samples, plan)
                for eeg, starts, _ in segments
            )
            for (_, _, positions), env in zip(segments, results):
                out[positions] = env
        else:
            out = _window_envelopes(X, lag_samples, plan, self.n_jobs)
        if self.log:
            np.log(np.maximum(out, np.finfo(out.dtype).tiny), out=out)
        return out

    def _finish(self, X, envelopes=None):
        if envelopes is None:
            envelopes = self._envelopes(X)
        if self.standardize:
            envelopes -= self.mean_[None, :, :, None].astype(envelopes.dtype)
            envelopes /= self.scale_[None, :, :, None].astype(envelopes.dtype)
        n = envelopes.shape[0]
        if self.layout == "series":
            return SeriesWindows(envelopes.reshape(n, -1, envelopes.shape[-1]), self.out_sfreq)
        return envelopes.reshape(n, -1)


class SeriesWindows(np.ndarray):
    """Windows of time series ``(n_windows, n_series, n_times)`` that know their rate.

    What :class:`EnvelopeFeatureExtractor` (``layout="series"``) returns: a
    plain ndarray with an ``sfreq`` attribute (Hz), so that the next step of
    a pipeline (:class:`~skeeg2bold.features.HRFConvolution`) reads the rate
    of the envelopes instead of being told it again. Slices keep ``sfreq``;
    ``np.asarray`` gives the plain array.
    """

    def __new__(cls, array, sfreq):
        obj = np.asarray(array).view(cls)
        obj.sfreq = float(sfreq)
        return obj

    def __array_finalize__(self, obj):
        self.sfreq = getattr(obj, "sfreq", None)

    def __reduce__(self):
        # ndarray pickles its data only; keep the rate (joblib caches, clones).
        rebuild, args, state = super().__reduce__()
        return rebuild, args, (state, self.sfreq)

    def __setstate__(self, state):
        state, self.sfreq = state
        super().__setstate__(state)


def _check_windows(X):
    """EEGWindows stay lazy (their recordings were checked); arrays are validated."""
    if isinstance(X, EEGWindows):
        if len(X) == 0:
            raise ValueError("X holds no windows.")
        return X
    return check_eeg_windows_array(X, "X")


def _check_bands(bands, sfreq):
    """``bands`` (None: :data:`DEFAULT_BANDS`) checked by :func:`check_bands`."""
    return check_bands(DEFAULT_BANDS if bands is None else bands, sfreq)


def _format_seconds(value):
    """``3.0`` -> ``"3.0"``, ``0.25`` -> ``"0.25"`` (at most millisecond digits)."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


# -- the computation ------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _band_filter(sfreq, l_freq, h_freq):
    """MNE's default zero-phase FIR band-pass and the highest frequency it passes."""
    import mne

    h = mne.filter.create_filter(None, sfreq, l_freq, h_freq, fir_design="firwin", verbose=False)
    n = 1 << max(14, int(len(h) - 1).bit_length() + 2)
    response = np.abs(sp_fft.rfft(h, n))
    f_cut = float(np.flatnonzero(response > _RESPONSE_FLOOR).max()) * sfreq / n
    h.flags.writeable = False
    return h, min(f_cut, sfreq / 2)


@functools.lru_cache(maxsize=256)
def _band_response(sfreq, l_freq, h_freq, n_fft, n_keep, dtype):
    """Zero-phase response of the band filter on the first ``n_keep`` bins of an
    ``n_fft``-point FFT (real: the filter is symmetric and centred at 0)."""
    h, _ = _band_filter(sfreq, l_freq, h_freq)
    half = len(h) // 2
    circular = np.zeros(n_fft)
    circular[: half + 1] = h[half:]
    circular[n_fft - half :] = h[:half]
    response = sp_fft.rfft(circular)[:n_keep].real.astype(dtype)
    response.flags.writeable = False
    return response


class _Plan:
    """Everything fixed at fit time: bands, internal decimation, padding."""

    def __init__(self, sfreq, bands, envelope, smoothing, decim, pad, dtype):
        self.sfreq, self.bands, self.envelope = sfreq, bands, envelope
        self.smoothing, self.decim, self.pad, self.dtype = smoothing, decim, pad, dtype

    @classmethod
    def make(cls, sfreq, bands, envelope, smoothing, n_times, dtype):
        check_option(envelope, ("hilbert", "rectify"), "envelope")
        smoothing = check_positive(smoothing, "smoothing", allow_none=True)
        if smoothing is not None and smoothing > n_times / sfreq:
            raise ValueError(
                f"smoothing={smoothing:g} s is longer than the window ({n_times / sfreq:g} s)."
            )
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float32, np.float64):
            raise ValueError("dtype must be 'float32' or 'float64'.")
        filters = [_band_filter(sfreq, lo, hi) for lo, hi in bands.values()]
        decim = []
        for _, f_cut in filters:
            rate = _OVERSAMPLE[envelope] * f_cut
            # smoothing=None is the raw envelope: read exact samples.
            rate = sfreq if smoothing is None else max(rate, _MIN_SMOOTHING_TAPS / smoothing)
            # Powers of two so that one FFT length suits every band.
            decim.append(1 << max(0, int(math.floor(math.log2(sfreq / rate)))))
        half_filter = max(len(h) // 2 for h, _ in filters)
        half_smooth = int(math.ceil((smoothing or 0.0) * sfreq / 2))
        pad = half_filter + half_smooth + max(decim) + 1
        bands = tuple((lo, hi) for lo, hi in bands.values())
        return cls(sfreq, bands, envelope, smoothing, tuple(decim), pad, dtype)


# Hand-written (one FFT band-pass per band at a reduced internal rate, read
# out only at the lags) rather than mne.filter.filter_data + scipy's hilbert:
# benchmarks/bench_features.py (8 simulated subjects, one thread, same
# features to r > 0.9999) measured it 5.7x faster than MNE on each continuous
# recording at 250 Hz (21x at 1000 Hz, best of 3) and 15x faster than MNE on
# each window for plain arrays.
def _envelopes_at(signals, positions, plan):
    """Smoothed band envelopes of each signal read at fractional sample ``positions``.

    Parameters
    ----------
    signals : ndarray of shape (n_signals, n_samples)
    positions : ndarray of shape (n_positions,)
        Read-out times in samples of ``signals`` (may be fractional).

    Returns
    -------
    envelopes : ndarray of shape (n_signals, n_bands, n_positions)
    """
    complex_dtype = np.result_type(plan.dtype, np.complex64)
    x = np.pad(signals.astype(plan.dtype, copy=False), ((0, 0), (plan.pad, plan.pad)), "reflect")
    q_max = max(plan.decim)
    n_fft = q_max * sp_fft.next_fast_len(-(-x.shape[1] // q_max), real=True)
    spectrum = sp_fft.rfft(x, n=n_fft, axis=-1)
    del x
    out = np.empty((signals.shape[0], len(plan.bands), positions.size), dtype=plan.dtype)
    for b, ((l_freq, h_freq), q) in enumerate(zip(plan.bands, plan.decim)):
        n_int = n_fft // q  # samples of the band's internal (decimated) signal
        _, f_cut = _band_filter(plan.sfreq, l_freq, h_freq)
        n_keep = int(math.ceil(f_cut * n_fft / plan.sfreq)) + 1
        if plan.envelope == "hilbert":
            n_keep = min(n_keep, n_int, n_fft // 2 + 1)
            # Analytic signal: positive frequencies doubled, brought back with
            # an n_int-point inverse FFT (1/q corrects the FFT normalisation).
            gain = np.full(n_keep, 2.0 / q, dtype=plan.dtype)
            gain[0] = 1.0 / q
            resp = _band_response(plan.sfreq, l_freq, h_freq, n_fft, n_keep, plan.dtype) * gain
            z = np.zeros((signals.shape[0], n_int), dtype=complex_dtype)
            np.multiply(spectrum[:, :n_keep], resp, out=z[:, :n_keep])
            env = np.abs(sp_fft.ifft(z, axis=-1, overwrite_x=True))
        else:
            n_keep = min(n_keep, n_int // 2 + 1)
            resp = _band_response(plan.sfreq, l_freq, h_freq, n_fft, n_keep, plan.dtype) / q
            env = np.abs(sp_fft.irfft(spectrum[:, :n_keep] * resp, n=n_int, axis=-1))
        kernel = _readout_matrix((positions + plan.pad) / q, n_int, plan, q)
        out[:, b] = (kernel @ env.T).T
    return out


def _readout_matrix(positions, n_samples, plan, q):
    """Sparse ``(n_positions, n_samples)`` weights reading a signal at ``positions``.

    A centred Hamming window of ``plan.smoothing`` seconds evaluated at the
    exact (fractional) offsets, normalised to unit sum; linear interpolation
    without smoothing.
    """
    if plan.smoothing is None:
        first = np.floor(positions)
        offsets = first[:, None] + np.arange(2)
        frac = (positions - first)[:, None]
        weights = np.where(offsets == first[:, None], 1.0 - frac, frac)
    else:
        half = plan.smoothing * plan.sfreq / q / 2
        first = np.ceil(positions - half)
        offsets = first[:, None] + np.arange(int(math.floor(2 * half)) + 2)
        tau = (offsets - positions[:, None]) / half
        weights = np.where(np.abs(tau) <= 1, 0.54 + 0.46 * np.cos(np.pi * tau), 0.0)
        weights /= weights.sum(axis=1, keepdims=True)
    cols = np.clip(offsets, 0, n_samples - 1).astype(np.intp)
    rows = np.repeat(np.arange(positions.size), offsets.shape[1])
    return sp_sparse.csr_matrix(
        (weights.ravel().astype(plan.dtype), (rows, cols.ravel())),
        shape=(positions.size, n_samples),
    )


def _recording_envelopes(eeg, starts, n_times, lag_samples, plan):
    """Envelopes of one recording's windows, (n_windows, n_channels, n_bands, n_lags)."""
    ends = np.asarray(starts, dtype=float) + (n_times - 1)
    positions = (ends[:, None] - lag_samples[None, :]).ravel()
    env = _envelopes_at(np.asarray(eeg), positions, plan)
    env = env.reshape(env.shape[0], env.shape[1], len(starts), lag_samples.size)
    return env.transpose(2, 0, 1, 3)


def _window_envelopes(X, lag_samples, plan, n_jobs):
    """Envelopes of independent windows, batched over windows x channels."""
    n_windows, n_channels, n_times = X.shape
    signals = X.reshape(n_windows * n_channels, n_times)
    positions = (n_times - 1) - lag_samples
    n_fft = n_times + 2 * plan.pad
    rows = max(1, _CHUNK_BYTES // (n_fft * 2 * np.dtype(plan.dtype).itemsize))
    chunks = [slice(i, i + rows) for i in range(0, signals.shape[0], rows)]
    results = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_envelopes_at)(signals[chunk], positions, plan) for chunk in chunks
    )
    env = np.concatenate(results, axis=0)
    return env.reshape(n_windows, n_channels, len(plan.bands), lag_samples.size)
