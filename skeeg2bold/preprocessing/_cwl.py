"""Carbon-wire loop (CWL) regression of scanner artefacts out of the EEG.

The method of van der Meer et al. (2016, NeuroImage 125): the carbon-wire
loops move with the head in the scanner's field but touch no scalp, so they
pick up the pulse (ballistocardiogram), helium-pump and motion artefacts and
no brain signal. In short sliding windows the EEG of every channel is
regressed on delayed copies of the (high-passed) loop signals and the fit is
subtracted.

The signal is cut into blocks of half a window (``H`` samples); window ``k``
spans blocks ``k - 1`` and ``k``, so every sample lies in two windows whose
periodic Hann tapers sum to one. The least squares of a window are computed
from per-block sums (``X'X``, ``X'Y``, ``sum X``, ``sum Y``), which the
offline and the streaming code share: both give the same numbers.
"""

import re

import numpy as np
from scipy.signal import butter, sosfilt, sosfiltfilt
from sklearn.base import BaseEstimator, TransformerMixin

from .._recording import Recording
from .._validation import check_positive, check_real_array, validate_type

__all__ = ["CWLRegression", "OnlineCWLRegression", "cwl_regression"]

#: Names the carbon-wire loop channels get (CW1 ... CW6 in the CWL data).
CW_PATTERN = re.compile(r"^cw\d+$", re.IGNORECASE)
# Order of the Butterworth high-pass of the loop signals.
_HIGHPASS_ORDER = 4
# Eigenvalues of a window's Gram matrix below this fraction of the largest
# are dropped (minimum-norm least squares, as lstsq with rcond=1e-6).
_RCOND = 1e-12


def _params(sfreq, window, delay, delay_step, highpass, causal):
    """Samples per half window, the lags (samples) and the high-pass filter."""
    sfreq = check_positive(sfreq, "sfreq")
    window = check_positive(window, "window")
    delay = check_positive(delay, "delay", allow_zero=True)
    delay_step = check_positive(delay_step, "delay_step")
    highpass = check_positive(highpass, "highpass", allow_none=True)
    validate_type(causal, (bool, np.bool_), "causal", "bool")
    half = int(round(window * sfreq / 2.0))
    if half < 1:
        raise ValueError(f"window={window} s is shorter than two samples at {sfreq:g} Hz.")
    step = max(1, int(round(delay_step * sfreq)))
    n_side = int(round(delay * sfreq)) // step
    lags = np.arange(-n_side, n_side + 1) * step
    if causal:
        # Past samples only: the same span, shifted by the delay.
        lags = lags + n_side * step
    sos = None
    if highpass is not None:
        if highpass >= sfreq / 2.0:
            raise ValueError(
                f"highpass={highpass} Hz must be below the Nyquist frequency {sfreq / 2:g} Hz."
            )
        sos = butter(_HIGHPASS_ORDER, highpass, btype="highpass", fs=sfreq, output="sos")
    return half, lags, sos


def _taper(half):
    """Periodic Hann window of ``2 * half`` samples: shifted by ``half`` it sums to one."""
    n = 2 * half
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _embed(cw_padded, start, stop, lags, pad):
    """Delay-embedded loop signals of samples ``[start, stop)``, shape (m, n_cw * n_lags).

    ``cw_padded`` holds the (filtered) loop signals with ``pad`` samples
    before sample 0 (zeros: the loops before the recording are unknown).
    Column ``j * n_lags + l`` is loop ``j`` delayed by ``lags[l]`` samples.
    """
    idx = np.arange(start, stop)[:, None] - lags[None, :] + pad
    x = cw_padded[:, idx]  # (n_cw, m, n_lags)
    return np.ascontiguousarray(x.transpose(1, 0, 2).reshape(stop - start, -1))


def _block_stats(x, y):
    """Sums of one block that the window fits need."""
    return (x.shape[0], x.T @ x, x.T @ y, x.sum(axis=0), y.sum(axis=0))


def _fit(stats):
    """Mean of the regressors and the minimum-norm least-squares weights of the
    centred regressors, from the summed block statistics (None: no fit)."""
    stats = [s for s in stats if s is not None]
    if not stats:
        return None
    m = sum(s[0] for s in stats)
    xx, xy, sx, sy = (sum(s[i] for s in stats) for i in range(1, 5))
    mx, my = sx / m, sy / m
    gram = xx - m * np.outer(mx, mx)
    cross = xy - m * np.outer(mx, my)
    evals, evecs = np.linalg.eigh(gram)
    keep = evals > _RCOND * max(evals[-1], 0.0)
    if not keep.any():
        return None
    inv = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    return mx, inv @ cross


def _artefact(x, fit):
    mx, beta = fit
    return (x - mx) @ beta


def _apply_block(x, y, fit_lo, fit_hi, offset, taper, half):
    """Cleaned block: ``y`` minus the two windows' fits, tapered.

    ``fit_lo`` belongs to the window that started a block earlier (this block
    is its second half), ``fit_hi`` to the window that starts here; ``offset``
    is the position of the first row inside the block.
    """
    pos = np.arange(offset, offset + x.shape[0])
    out = y.copy()
    for fit, weights in ((fit_lo, taper[half + pos]), (fit_hi, taper[pos])):
        if fit is not None:
            out -= weights[:, None] * _artefact(x, fit)
    return out


def _check_cw(cw, cw_names, where):
    """Loop signals must exist, be finite and not flat."""
    if cw.shape[0] == 0:
        raise ValueError(
            f"no carbon-wire loop channels in {where}: CWLRegression needs the CW channels "
            "(CW1-CW6 in the CWL data); set cw_names to their names."
        )
    flat = [name for name, row in zip(cw_names, cw) if not np.ptp(row) > 0]
    if flat:
        raise ValueError(
            f"carbon-wire loop channel(s) {flat} in {where} are flat (constant): a "
            "disconnected loop carries no artefact to regress out; leave it out with "
            "cw_names."
        )


def cwl_regression(
    eeg,
    cw,
    sfreq,
    *,
    window=8.0,
    delay=0.02,
    delay_step=0.01,
    highpass=0.5,
    causal=False,
    n_jobs=None,
):
    """Regress the carbon-wire loop signals out of EEG arrays.

    The array form of :class:`CWLRegression` (see there for the method).

    Parameters
    ----------
    eeg : array-like of shape (n_channels, n_times)
        EEG to clean.
    cw : array-like of shape (n_loops, n_times)
        The carbon-wire loop signals, sampled with the EEG.
    sfreq : float
        Sampling rate (Hz).
    window, delay, delay_step, highpass, causal, n_jobs
        As in :class:`CWLRegression`.

    Returns
    -------
    cleaned : ndarray of shape (n_channels, n_times)
        In the dtype of ``eeg`` (float64 for an integer input).

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.preprocessing import cwl_regression
    >>> rng = np.random.default_rng(0)
    >>> cw = rng.standard_normal((6, 20000))
    >>> brain = rng.standard_normal((2, 20000))
    >>> eeg = brain + rng.standard_normal((2, 6)) @ cw
    >>> cleaned = cwl_regression(eeg, cw, 250.0)
    >>> bool(np.corrcoef(cleaned[0], brain[0])[0, 1] > 0.9)
    True
    """
    eeg = check_real_array(eeg, "eeg", dtype=None)
    cw = check_real_array(cw, "cw", dtype=np.float64)
    if eeg.ndim != 2 or eeg.shape[1] == 0:
        raise ValueError(f"eeg must be 2-D (n_channels, n_times), got shape {eeg.shape}.")
    if cw.ndim != 2 or cw.shape[1] != eeg.shape[1]:
        raise ValueError(
            f"cw must be 2-D (n_loops, n_times) with the EEG's {eeg.shape[1]} samples, got "
            f"shape {cw.shape}."
        )
    if not (np.all(np.isfinite(cw)) and np.all(np.isfinite(eeg))):
        raise ValueError("eeg and cw must be finite (no NaN or inf).")
    _check_cw(cw, [f"cw[{k}]" for k in range(cw.shape[0])], "cw")
    half, lags, sos = _params(sfreq, window, delay, delay_step, highpass, causal)
    n_times = eeg.shape[1]
    if n_times < 2 * half:
        raise ValueError(
            f"the EEG has {n_times} samples, fewer than one window ({2 * half} samples, "
            f"window={window} s at {sfreq:g} Hz); use a shorter window."
        )
    out_dtype = eeg.dtype if eeg.dtype.kind == "f" else np.dtype(np.float64)
    if sos is not None:
        # The same filter on the EEG and the loops: the weights fit what the
        # two share, and the output carries no drift the loops do not see.
        filt = (
            (lambda x: sosfilt(sos, x, axis=1))
            if causal
            else (lambda x: sosfiltfilt(sos, x, axis=1))
        )
        cw, eeg = filt(cw), filt(eeg.astype(np.float64))
    pad = int(np.abs(lags).max())
    cw_padded = np.pad(cw, ((0, 0), (pad, pad)))
    n_blocks = -(-n_times // half)
    bounds = [(b * half, min((b + 1) * half, n_times)) for b in range(n_blocks)]

    def block(b):
        start, stop = bounds[b]
        x = _embed(cw_padded, start, stop, lags, pad)
        y = eeg[:, start:stop].T.astype(np.float64)
        return x, y

    parallel = _parallel(n_jobs)
    stats = parallel(lambda b: _block_stats(*block(b)), range(n_blocks))
    fits = [_fit(_fit_blocks(stats, k, causal)) for k in range(n_blocks + 1)]
    taper = _taper(half)

    def clean(b):
        x, y = block(b)
        return _apply_block(x, y, fits[b], fits[b + 1], 0, taper, half)

    cleaned = parallel(clean, range(n_blocks))
    return np.concatenate(cleaned, axis=0).T.astype(out_dtype, copy=False)


def _fit_blocks(stats, k, causal):
    """Statistics of the blocks window ``k`` (blocks ``k - 1``, ``k``) is fitted on.

    Offline: its own two blocks, or at the edges the two blocks of the
    recording nearest to it. Causal: the two blocks before it (those that
    exist), so that a window is fitted on past samples only.
    """
    n_blocks = len(stats)
    if causal:
        return [stats[b] for b in (k - 3, k - 2) if 0 <= b < n_blocks]
    if n_blocks == 1:
        return [stats[0]]
    j = min(max(k, 1), n_blocks - 1)
    return [stats[j - 1], stats[j]]


def _parallel(n_jobs):
    """``map`` over blocks, with joblib threads when ``n_jobs`` asks for them."""
    if n_jobs is None or n_jobs == 1:
        return lambda f, items: [f(i) for i in items]
    from joblib import Parallel, delayed

    def run(f, items):
        return Parallel(n_jobs=n_jobs, prefer="threads")(delayed(f)(i) for i in items)

    return run


class CWLRegression(TransformerMixin, BaseEstimator):
    """Carbon-wire loop regression: remove the scanner artefacts from the EEG.

    Inside the scanner every head movement (each heartbeat's pulse, the
    vibration of the helium pump) induces voltages in the EEG leads. The
    carbon-wire loops (``CW1``-``CW6`` in the CWL data) see the same movement
    in the same field but no brain signal; the method of van der Meer et al.
    (2016) regresses them out of the EEG in short sliding windows:

    1. the loop signals and the EEG are high-passed by the same filter
       (``highpass``; Butterworth of order 4, zero-phase, or causal with
       ``causal=True``), so that slow drifts take no part in the fit and the
       weights relate what the two share;
    2. each loop is delay-embedded: copies shifted by ``-delay`` to
       ``+delay`` seconds in steps of ``delay_step`` (``6 * 5 = 30``
       regressors with the defaults), so that the fit can follow the
       frequency-dependent transfer from the loops to every electrode (the
       ~42 Hz helium-pump vibration needs two shifts a quarter period
       apart);
    3. the recording is cut into windows of ``window`` seconds overlapping
       by half, and in each window every EEG channel is fitted by least
       squares on the centred regressors (one solve per window for all
       channels);
    4. each window's fit is tapered by a periodic Hann window (overlapping
       by half they sum to exactly one) and subtracted.

    The output is the high-passed EEG minus the fits; the fits are centred,
    so the EEG's mean is kept. A channel without artefact loses what the
    regressors explain by chance: about ``n_regressors`` of the ``2 * B *
    window`` degrees of freedom of a band ``B`` Hz wide in each window,
    most in the slow bands where the loops carry most power. More lags or
    shorter windows remove more brain signal: 4 s windows and +-0.05 s
    shifts cost the delta band of a clean EEG more than the pulse artefact
    of the simulator does (``benchmarks/RESULTS.md``); hence the defaults.

    ``causal=True`` is the variant a stream can run: the lags are past
    samples only (``0`` to ``2 * delay``), the high-pass is causal, and each
    window is fitted on the samples that precede it (the two half-window
    blocks before it; windows with none are left uncleaned, the first
    ``window`` seconds) instead of on itself. Stale weights and the causal
    filter's phase make it less accurate than the offline fit. :meth:`stream` returns an
    :class:`OnlineCWLRegression` that gives the same numbers chunk by chunk.

    Parameters
    ----------
    window : float, default=8.0
        Length (s) of the sliding windows.
    delay : float, default=0.02
        Largest shift (s) of the delay embedding, each side of zero.
    delay_step : float, default=0.01
        Spacing (s) of the shifts; at least one sample.
    highpass : float or None, default=0.5
        Cut-off (Hz) of the high-pass applied to the loop signals and the
        EEG. None: no filter.
    cw_names : list of str, default=None
        Names of the loop channels. None: every channel called ``CW<k>``
        (any case) among the Raw's channels or the Recording's ``aux``.
    causal : bool, default=False
        Fit every window on past samples only (see above).
    n_jobs : int, default=None
        Threads over blocks (joblib); None: one.

    See Also
    --------
    cwl_regression : The same on arrays.
    OnlineCWLRegression : The causal variant, chunk by chunk.

    Notes
    -----
    The paper (Dagaev et al.) cleaned the CWL recordings this way before
    any model; the published ``*_mrcorrected_*.set`` files are corrected for
    the gradient artefact only. The paper does not give the high-pass; 0.5
    Hz lies below the heart rate (the pulse artefact's fundamental, 0.8-1.5
    Hz, which a 1 Hz cut-off would weaken relative to its harmonics) and
    below the 1 Hz edge of the delta band, and drops the drifts.

    References
    ----------
    van der Meer, J. N., et al. (2016). Carbon-wire loop based artifact
    correction outperforms post-processing EEG/MRI artifact correction
    approaches. NeuroImage, 125, 880-894.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold import Recording
    >>> from skeeg2bold.preprocessing import CWLRegression
    >>> rng = np.random.default_rng(0)
    >>> cw = rng.standard_normal((6, 20000))
    >>> brain = rng.standard_normal((2, 20000))
    >>> rec = Recording(brain + rng.standard_normal((2, 6)) @ cw, np.zeros((5, 1)),
    ...                 [1.0, 3.0, 5.0, 7.0, 9.0], sfreq=250.0, ch_names=["Cz", "Pz"],
    ...                 aux={f"CW{k + 1}": cw[k] for k in range(6)})
    >>> clean = CWLRegression().fit_transform(rec)
    >>> bool(np.corrcoef(clean.eeg[0], brain[0])[0, 1] > 0.9)
    True
    """

    def __init__(
        self,
        window=8.0,
        delay=0.02,
        delay_step=0.01,
        highpass=0.5,
        cw_names=None,
        causal=False,
        n_jobs=None,
    ):
        self.window = window
        self.delay = delay
        self.delay_step = delay_step
        self.highpass = highpass
        self.cw_names = cw_names
        self.causal = causal
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Check the parameters; the regression is fitted per window in :meth:`transform`.

        Parameters
        ----------
        X : Recording, mne.io.BaseRaw or list of them
        y : None
            Ignored.

        Returns
        -------
        self : CWLRegression
        """
        _params(1000.0, self.window, self.delay, self.delay_step, None, self.causal)
        return self

    def transform(self, X):
        """Cleaned copies of the recordings.

        Parameters
        ----------
        X : Recording, mne.io.BaseRaw or list of them
            A Recording with the loop channels in ``aux`` (as
            :func:`~skeeg2bold.io.read_cwl` gives it), or a Raw with them
            among its channels.

        Returns
        -------
        cleaned : same type as X
            Copies with the EEG channels cleaned; the loop and other
            channels, the BOLD and the volume onsets unchanged.
        """
        if isinstance(X, (list, tuple)):
            return [self.transform(x) for x in X]
        if isinstance(X, Recording):
            return self._transform_recording(X)
        from .._recording import _is_raw

        if _is_raw(X):
            return self._transform_raw(X)
        raise TypeError(
            f"X must be a Recording, an mne.io.Raw or a list of them, got {type(X).__name__}."
        )

    def _clean(self, eeg, cw, sfreq):
        return cwl_regression(
            eeg,
            cw,
            sfreq,
            window=self.window,
            delay=self.delay,
            delay_step=self.delay_step,
            highpass=self.highpass,
            causal=self.causal,
            n_jobs=self.n_jobs,
        )

    def _loop_names(self, available, where):
        if self.cw_names is None:
            names = [n for n in available if CW_PATTERN.match(n)]
            if not names:
                raise ValueError(
                    f"no carbon-wire loop channels (CW1, CW2, ...) in {where}; found "
                    f"{sorted(available)[:20]}. CWLRegression needs them: read the runs with "
                    "read_cwl (which keeps them in Recording.aux), or set cw_names."
                )
            return names
        names = [self.cw_names] if isinstance(self.cw_names, str) else list(self.cw_names)
        missing = [n for n in names if n not in available]
        if missing:
            raise ValueError(
                f"cw_names {missing} are not in {where}; it has {sorted(available)[:20]}."
            )
        return names

    def _transform_recording(self, rec):
        where = f"the aux channels of recording {rec.subject!r}"
        names = self._loop_names(list(rec.aux), where)
        cw = np.vstack([rec.aux[n] for n in names])
        _check_cw(cw, names, where)
        cleaned = self._clean(rec.eeg, cw, rec.sfreq)
        return _replace_eeg(rec, cleaned)

    def _transform_raw(self, raw):
        where = "the Raw's channels"
        names = self._loop_names(list(raw.ch_names), where)
        cw = raw.get_data(picks=names)
        _check_cw(cw, names, where)
        raw = raw.copy().load_data()
        picks = [raw.ch_names[i] for i in _eeg_picks(raw, names)]
        if not picks:
            raise ValueError("the Raw has no EEG channels to clean.")
        raw._data[[raw.ch_names.index(p) for p in picks]] = self._clean(
            raw.get_data(picks=picks), cw, raw.info["sfreq"]
        )
        return raw

    def stream(self, sfreq, n_channels, n_loops):
        """The causal variant for a stream, chunk by chunk.

        Parameters
        ----------
        sfreq : float
            Sampling rate (Hz) of the stream.
        n_channels : int
            EEG channels of every chunk.
        n_loops : int
            Carbon-wire loop channels of every chunk.

        Returns
        -------
        online : OnlineCWLRegression
            Its :meth:`~OnlineCWLRegression.process` gives, on the
            concatenated chunks, what ``CWLRegression(causal=True)`` with
            these parameters gives on the whole recording.
        """
        return OnlineCWLRegression(
            sfreq,
            n_channels,
            n_loops,
            window=self.window,
            delay=self.delay,
            delay_step=self.delay_step,
            highpass=self.highpass,
        )


def _eeg_picks(raw, loop_names):
    import mne

    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    return [i for i in picks if raw.ch_names[i] not in loop_names]


def _replace_eeg(rec, eeg):
    new = Recording(
        eeg,
        rec.bold,
        rec.volume_times,
        sfreq=rec.sfreq,
        ch_names=list(rec.ch_names),
        roi_names=list(rec.roi_names),
        subject=rec.subject,
        montage=rec.montage,
        marker_report=rec.marker_report,
        aux=rec.aux,
    )
    new._info = rec._info  # the same channels: keep the Raw's info and montage
    return new


class OnlineCWLRegression:
    """Causal carbon-wire loop regression of a stream, chunk by chunk.

    Every sample comes out as soon as it comes in (no delay): its artefact
    is estimated from the loops' present and past samples with weights
    fitted on earlier windows. On the concatenated chunks, the output equals
    ``CWLRegression(causal=True, ...)`` on the whole recording (to floating
    point rounding), whatever the chunk sizes. An in-scanner stream that
    carries the loop channels with the EEG (e.g. an LSL outlet of a
    BrainAmp with CW1-CW6) is cleaned by passing each chunk's EEG rows and
    loop rows to :meth:`process` before any windowing.

    Parameters
    ----------
    sfreq : float
        Sampling rate (Hz).
    n_channels : int
        EEG channels of each chunk.
    n_loops : int
        Loop channels of each chunk.
    window, delay, delay_step, highpass
        As in :class:`CWLRegression`.

    Attributes
    ----------
    n_samples_ : int
        Samples processed so far.
    ready_at : int
        Samples after which every output sample is cleaned by both of its
        tapered windows (two half-windows): before, the weights are fitted
        on fewer blocks or not at all, and the output is partly or wholly
        the high-passed EEG with its artefact.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.preprocessing import CWLRegression
    >>> rng = np.random.default_rng(0)
    >>> cw = rng.standard_normal((6, 5000))
    >>> eeg = rng.standard_normal((2, 5000)) + rng.standard_normal((2, 6)) @ cw
    >>> online = CWLRegression().stream(250.0, n_channels=2, n_loops=6)
    >>> out = np.hstack([online.process(eeg[:, i:i + 100], cw[:, i:i + 100])
    ...                  for i in range(0, 5000, 100)])
    >>> offline = CWLRegression(causal=True).transform(
    ...     __import__("skeeg2bold").Recording(eeg, np.zeros((3, 1)), [1.0, 3.0, 5.0],
    ...     sfreq=250.0, ch_names=["a", "b"], aux={f"CW{k}": cw[k] for k in range(6)}))
    >>> bool(np.allclose(out, offline.eeg))
    True
    """

    def __init__(
        self, sfreq, n_channels, n_loops, *, window=8.0, delay=0.02, delay_step=0.01, highpass=0.5
    ):
        self.sfreq = check_positive(sfreq, "sfreq")
        self.n_channels = int(n_channels)
        self.n_loops = int(n_loops)
        if self.n_channels < 1 or self.n_loops < 1:
            raise ValueError(
                f"n_channels and n_loops must be >= 1, got {n_channels} and {n_loops}."
            )
        self._half, self._lags, self._sos = _params(
            sfreq, window, delay, delay_step, highpass, True
        )
        self._pad = int(self._lags.max())
        n_sections = 0 if self._sos is None else self._sos.shape[0]
        self._zi = np.zeros((n_sections, self.n_loops, 2))
        self._zi_eeg = np.zeros((n_sections, self.n_channels, 2))
        self._history = np.zeros((self.n_loops, self._pad))  # filtered loops before the block
        self._block_x, self._block_y = [], []
        self._stats = []  # statistics of the completed blocks (the last three kept)
        self._fits = [None, None]  # windows of the current block: lower, upper
        self._taper = _taper(self._half)
        self.ready_at = 2 * self._half
        self.n_samples_ = 0

    def process(self, eeg, cw):
        """Clean one chunk.

        Parameters
        ----------
        eeg : array-like of shape (n_channels, n_samples)
            The chunk's EEG.
        cw : array-like of shape (n_loops, n_samples)
            The chunk's loop signals, same samples.

        Returns
        -------
        cleaned : ndarray of shape (n_channels, n_samples)
            In the dtype of ``eeg`` (float64 for integers).
        """
        eeg = check_real_array(eeg, "eeg", dtype=None)
        cw = check_real_array(cw, "cw", dtype=np.float64)
        if eeg.ndim != 2 or eeg.shape[0] != self.n_channels:
            raise ValueError(
                f"eeg must have shape ({self.n_channels}, n_samples), got {eeg.shape}."
            )
        if cw.shape != (self.n_loops, eeg.shape[1]):
            raise ValueError(
                f"cw must have shape ({self.n_loops}, {eeg.shape[1]}) to match eeg, got {cw.shape}."
            )
        if not (np.all(np.isfinite(cw)) and np.all(np.isfinite(eeg))):
            raise ValueError("eeg and cw must be finite (no NaN or inf).")
        out_dtype = eeg.dtype if eeg.dtype.kind == "f" else np.dtype(np.float64)
        if self._sos is not None:
            cw, self._zi = sosfilt(self._sos, cw, axis=1, zi=self._zi)
            eeg, self._zi_eeg = sosfilt(self._sos, eeg.astype(np.float64), axis=1, zi=self._zi_eeg)
        out = []
        start = 0
        while start < eeg.shape[1]:
            offset = self.n_samples_ % self._half
            stop = min(eeg.shape[1], start + self._half - offset)
            x = self._embed_piece(cw[:, start:stop])
            y = eeg[:, start:stop].T.astype(np.float64)
            out.append(_apply_block(x, y, *self._fits, offset, self._taper, self._half))
            self._block_x.append(x)
            self._block_y.append(y)
            self.n_samples_ += stop - start
            if self.n_samples_ % self._half == 0:
                self._end_block()
            start = stop
        if not out:
            return np.empty_like(eeg, dtype=out_dtype)
        return np.concatenate(out, axis=0).T.astype(out_dtype, copy=False)

    def _embed_piece(self, cw_piece):
        """Embedded rows of a piece, using the filtered loops of the earlier samples."""
        padded = np.hstack([self._history, cw_piece])
        m = cw_piece.shape[1]
        idx = np.arange(m)[:, None] - self._lags[None, :] + self._pad
        x = padded[:, idx]
        if self._pad:
            self._history = padded[:, -self._pad :]
        return np.ascontiguousarray(x.transpose(1, 0, 2).reshape(m, -1))

    def _end_block(self):
        x = np.concatenate(self._block_x, axis=0)
        y = np.concatenate(self._block_y, axis=0)
        self._block_x, self._block_y = [], []
        self._stats = (self._stats + [_block_stats(x, y)])[-3:]
        # The next block b is the second half of window b (fitted on blocks
        # b - 3, b - 2) and the first half of window b + 1 (blocks b - 2, b - 1).
        self._fits = [self._fits[1], _fit(self._stats[-2:])]
