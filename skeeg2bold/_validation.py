"""Small input-check helpers shared by every module.

Each helper names the argument it checks, the value it received and what
was expected, so that users see the problem in their own terms rather than
a numpy or torch traceback from deep inside a computation.
"""

import contextlib
import numbers
import os

import numpy as np
from scipy.sparse import issparse

__all__ = [
    "InvalidArgumentError",
    "check_bands",
    "fourier_band_masks",
    "check_int",
    "check_option",
    "check_positive",
    "check_finite",
    "check_fitted_windows",
    "check_memory",
    "check_names",
    "check_eeg_windows_array",
    "check_real_array",
    "fit_sfreq",
    "validate_type",
]


class InvalidArgumentError(ValueError, TypeError):
    """An argument of the wrong type or out of range.

    Both a ``ValueError`` and a ``TypeError``, as scikit-learn's
    ``InvalidParameterError``: callers may catch either.
    """


def validate_type(value, types, name, type_name=None):
    """Raise ``TypeError`` unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        expected = type_name or (
            " or ".join(t.__name__ for t in types) if isinstance(types, tuple) else types.__name__
        )
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} ({value!r:.80}).")
    return value


def check_option(value, allowed, name):
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)!r}, got {value!r}.")
    return value


def check_int(value, name, *, min_value=None, max_value=None, allow_none=False):
    """Return ``value`` as int after checking it is an integer in range.

    Integers of any kind (Python, numpy) are accepted; bools, floats (even
    ``3.0``) and strings are not. Raises :class:`InvalidArgumentError` (a
    ``ValueError`` and a ``TypeError``) naming ``name``, the value received
    and the range expected, e.g. "n_members must be a positive integer, got
    2.5.".
    """
    if value is None and allow_none:
        return None
    if min_value == 1 and max_value is None:
        expected = "a positive integer"
    elif min_value == 0 and max_value is None:
        expected = "a non-negative integer"
    elif max_value is None:
        expected = "an integer" + ("" if min_value is None else f" >= {min_value}")
    else:
        expected = f"an integer in [{min_value}, {max_value}]"
    if allow_none:
        expected += " or None"
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or (min_value is not None and value < min_value)
        or (max_value is not None and value > max_value)
    ):
        raise InvalidArgumentError(f"{name} must be {expected}, got {value!r:.80}.")
    return int(value)


def check_positive(value, name, *, allow_zero=False, allow_none=False):
    """Return ``value`` as float after checking it is a finite positive number."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r:.80}).")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}.")
    return value


def check_bands(bands, sfreq, name="bands"):
    """Frequency bands as ``{name: (l_freq, h_freq)}`` in Hz, each below Nyquist.

    The one rule for every band of the package (envelopes, covariances,
    network filters and band powers): ``0 < l_freq < h_freq < sfreq / 2``,
    both edges strictly below the Nyquist frequency. A band reaching it
    cannot be told apart from its alias, so it is refused rather than cut.

    Parameters
    ----------
    bands : dict or sequence of (float, float)
        ``{name: (l_freq, h_freq)}``, or (l_freq, h_freq) pairs (a list, a
        tuple or an array of shape ``(n_bands, 2)``), named ``"<l>-<h>Hz"``.
    sfreq : float
        Sampling rate, Hz.
    name : str, default="bands"
        The argument's name in the messages.

    Returns
    -------
    bands : dict of str to (float, float)
    """
    if isinstance(bands, dict):
        items = list(bands.items())
    elif isinstance(bands, (list, tuple, np.ndarray)):
        items = [(None, band) for band in bands]
    else:
        raise TypeError(
            f"{name} must be a dict {{name: (l_freq, h_freq)}} or a list of (l_freq, "
            f"h_freq) pairs, got {type(bands).__name__} ({bands!r:.80})."
        )
    if not items:
        raise ValueError(f"{name} is empty; give at least one (l_freq, h_freq) band.")
    out = {}
    for label, edges in items:
        try:
            l_freq, h_freq = (float(f) for f in edges)
        except (TypeError, ValueError):
            raise ValueError(
                f"each band of {name} must be a pair (l_freq, h_freq) in Hz, got {edges!r}."
            ) from None
        if not 0 < l_freq < h_freq < sfreq / 2:
            raise ValueError(
                f"{name}: band {label or (l_freq, h_freq)!r} = ({l_freq:g}, {h_freq:g}) Hz "
                f"must satisfy 0 < l_freq < h_freq < sfreq/2 = {sfreq / 2:g} Hz."
            )
        label = f"{l_freq:g}-{h_freq:g}Hz" if label is None else str(label)
        if label in out:
            raise ValueError(f"{name} has two bands named {label!r}.")
        out[label] = (l_freq, h_freq)
    return out


def fourier_band_masks(bands, n_samples, sfreq):
    """Which bins of an ``n_samples``-point real FFT each band holds.

    Parameters
    ----------
    bands : dict of str to (float, float)
        As returned by :func:`check_bands`.
    n_samples : int
        FFT length (samples of a bin of the window).
    sfreq : float
        Sampling rate, Hz.

    Returns
    -------
    masks : list of ndarray of bool, shape (n_samples // 2 + 1,)
        ``l_freq <= f < h_freq`` for every band, in order. A band that holds
        no Fourier frequency is refused by name.
    """
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq)
    masks = []
    for label, (lo, hi) in bands.items():
        mask = (freqs >= lo) & (freqs < hi)
        if not mask.any():
            raise ValueError(
                f"band {label!r} ({lo:g}-{hi:g} Hz) holds no Fourier frequency of the "
                f"{n_samples / sfreq:g} s bins (resolution {sfreq / n_samples:g} Hz); use "
                "fewer bins or a wider band."
            )
        masks.append(mask)
    return masks


def check_finite(array, name):
    """Raise ``ValueError`` naming ``name`` if ``array`` holds NaN or inf."""
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite value(s); clean or "
            "interpolate them before building windows."
        )
    return array


def available_memory():
    """Bytes of memory this process can still get without swapping.

    ``MemAvailable`` of ``/proc/meminfo``, lowered to what a container's
    cgroup (v2) limit leaves; the physical memory where neither exists;
    None when nothing tells.
    """
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        with contextlib.suppress(AttributeError, OSError, ValueError):  # no sysconf
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
    except (OSError, ValueError):
        return available
    if limit == "max":
        return available
    left = max(int(limit) - used, 0)
    return left if available is None else min(available, left)


def check_memory(n_bytes, what, hint=""):
    """Raise ``ValueError`` when ``what`` needs more than the available memory.

    ``n_bytes`` is an up-front estimate; the message gives it and the memory
    available, so that a request too large for the machine fails at once
    instead of swapping or being killed after minutes of work.
    """
    available = available_memory()
    if available is not None and n_bytes > available:
        raise ValueError(
            f"{what} would need about {_format_bytes(n_bytes)} of memory but only "
            f"{_format_bytes(available)} is available.{' ' + hint if hint else ''}"
        )
    return n_bytes


def _format_bytes(n_bytes):
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024:
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.3g} TB"


def check_real_array(value, name, *, dtype=float):
    """Return ``value`` as an ndarray of ``dtype`` (kept as is if None).

    Raises ``TypeError`` naming ``name`` when ``value`` is not numeric, where
    ``np.asarray(["a"], dtype=float)`` would fail with "could not convert
    string to float", which does not say which argument was wrong.
    """
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested sequences
        raise ValueError(f"{name} could not be converted to an array: {err}") from None
    if array.dtype.kind == "O":
        # Object arrays of numbers (e.g. from pandas) are fine; others are not.
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must hold real numbers: {err}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype} ({value!r:.80}).")
    return array if dtype is None else array.astype(dtype, copy=False)


def check_names(names, n_expected, name):
    """Return ``names`` as a list of unique strings of length ``n_expected``."""
    if isinstance(names, str):
        raise TypeError(f"{name} must be a sequence of strings, got a single string {names!r}.")
    try:
        names = [str(n) for n in names]
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence of strings, got {type(names).__name__} ({names!r:.80})."
        ) from None
    if len(names) != n_expected:
        raise ValueError(f"{name} has {len(names)} entries but the data have {n_expected}.")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{name} contains duplicates: {dup}.")
    return names


def check_eeg_windows_array(X, name="X", *, dtype=(np.float64, np.float32)):
    """Validate windowed EEG ``(n_windows, n_channels, n_times)``.

    Accepts an :class:`~skeeg2bold.EEGWindows` (materialised here) or any
    array-like. Returns a C-contiguous float ndarray.
    """
    if issparse(X):
        raise TypeError(
            f"{name} is a sparse {type(X).__name__}; sparse input is not supported, "
            "give dense windows (n_windows, n_channels, n_times)."
        )
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} could not be converted to an array: {err}") from err
    else:
        raise TypeError(f"{name} must be array-like, got {type(X).__name__}.")
    if X.dtype.kind == "c":
        # scikit-learn's wording, which its estimator checks look for.
        raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}.")
    X = check_real_array(X, name, dtype=None)
    if X.ndim != 3:
        raise ValueError(
            f"{name} must be 3-D (n_windows, n_channels, n_times), got shape {X.shape}."
        )
    if 0 in X.shape:
        raise ValueError(f"{name} is empty: shape {X.shape}.")
    if X.dtype not in dtype:
        X = X.astype(dtype[0])
    check_finite(X, name)
    return np.ascontiguousarray(X)


def fit_sfreq(sfreq, X, owner, source="EEGWindows from make_windows"):
    """The sampling rate a window transformer fits at.

    ``X.sfreq`` for inputs that carry their rate (:class:`~skeeg2bold.EEGWindows`,
    an envelope extractor's series; a given ``sfreq`` must agree), else the
    ``sfreq`` parameter, required for plain arrays. ``source`` names what
    carries the rate, for the error message.
    """
    sfreq = check_positive(sfreq, "sfreq", allow_none=True)
    x_sfreq = getattr(X, "sfreq", None)
    if x_sfreq is None:
        if sfreq is None:
            raise ValueError(
                f"sfreq is required when X is a plain array; pass {owner}(sfreq=...) or {source}."
            )
        return sfreq
    if sfreq is not None and not np.isclose(sfreq, x_sfreq):
        raise ValueError(
            f"sfreq={sfreq:g} disagrees with the windows' sampling rate X.sfreq={x_sfreq:g}."
        )
    return float(x_sfreq)


def check_fitted_windows(
    X, estimator, *, n_channels, n_times, sfreq=None, ch_names=None, reorder=False
):
    """Return ``X`` after checking it against the windows ``estimator`` was fitted on.

    Checks the sampling rate and the channel names, then the number of
    channels (or series) per window, in scikit-learn's wording, which its
    estimator checks look for, then the samples per window. Raises
    ``ValueError`` on any difference, with two exceptions that cannot give a
    wrong answer: with ``reorder=True`` (for callers that use the returned
    windows), windows with the fitted channels in another order (named, an
    :class:`~skeeg2bold.EEGWindows`) are returned with the channels put back
    in the fitted order; and when the fit knew no channel names (plain
    arrays), only the shapes are checked.

    A plain array given to an estimator fitted on named channels is refused:
    its channel order and rate cannot be checked, and a reordered array
    (``np.asarray(X)[:, ::-1]``) would be predicted as if nothing had
    changed. :meth:`EEGWindows.from_array` names such windows.
    """
    owner = type(estimator).__name__
    x_names = getattr(X, "ch_names", None)
    x_sfreq = getattr(X, "sfreq", None)
    if sfreq is not None and x_sfreq is not None and not np.isclose(x_sfreq, sfreq):
        raise ValueError(f"X is sampled at {x_sfreq:g} Hz but {owner} was fitted at {sfreq:g} Hz.")
    if ch_names is not None and x_names and list(x_names) != list(ch_names):
        diff = sorted(set(x_names) ^ set(ch_names))
        if diff or len(x_names) != len(ch_names) or not reorder:
            detail = f"differing: {diff}" if diff else "same channels in another order"
            raise ValueError(
                f"X has other channels than {owner} was fitted on ({detail}); pick and "
                "order the channels identically."
            )
        X = X.pick(ch_names)  # same channels in another order: put them back
    n_channels_x, n_times_x = X.shape[1:]
    if n_channels_x != n_channels:
        raise ValueError(
            f"X has {n_channels_x} features, but {owner} is expecting {n_channels} features "
            f"as input: its windows have shape {(n_channels_x, n_times_x)}, {n_channels_x} "
            f"channels (or series) of {n_times_x} samples; {owner} was fitted on "
            f"{n_channels} of {n_times}."
        )
    if n_times_x != n_times:
        raise ValueError(
            f"X has windows of {n_times_x} samples (shape {(n_channels_x, n_times_x)}) but "
            f"{owner} was fitted on {n_channels} of {n_times} samples."
        )
    if ch_names is not None and not x_names:
        rate = f" at {sfreq:g} Hz" if sfreq is not None else ""
        raise ValueError(
            f"X is a plain array but {owner} was fitted on named channels "
            f"({len(ch_names)}: {_short(ch_names)}){rate}, so the order and the rate of X's "
            "channels cannot be checked. Pass windows from make_windows, or name them "
            "with EEGWindows.from_array(X, sfreq=..., ch_names=...)."
        )
    return X


def _short(names, n=5):
    names = list(names)
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


#: Subject of windows whose subject is not known (``EEGWindows.from_array``
#: without ``groups``). Per-subject steps never learn a reference for it:
#: such windows are referenced at their own EEG, as a new subject's.
UNKNOWN_SUBJECT = "<unknown>"


def check_subject_labels(groups, n, name="groups"):
    """Subject labels as an ndarray of str, one per window.

    Labels are compared as text, so ``1``, ``np.int64(1)``, ``1.0`` and
    ``"1"`` are one subject everywhere (an integral float is written as the
    integer). Refuses another shape than ``(n,)`` and missing labels (None,
    NaN, infinity).
    """
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(
            f"{name} must be 1-D with one subject per window ({n}), got shape {groups.shape}."
        )
    if groups.dtype.kind == "U":
        return groups
    if groups.dtype.kind in "iub":
        return groups.astype(str)
    out = []
    for g in groups.tolist():
        if isinstance(g, bytes):
            g = g.decode()
        if g is None or (isinstance(g, numbers.Real) and not np.isfinite(g)):
            raise ValueError(f"{name} contains a missing subject label ({g!r}).")
        if isinstance(g, numbers.Real) and not isinstance(g, bool) and float(g).is_integer():
            g = int(g)
        out.append(str(g))
    return np.asarray(out, dtype=str).reshape(n)
