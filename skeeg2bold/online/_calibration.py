"""A new subject's EEG-only calibration of a fitted model, for the online twin."""

import os
import warnings

import numpy as np

from .._resampling import polyphase_ratio, resample
from .._windows import EEGWindows

__all__ = [
    "CALIBRATION_HOP",
    "calibrate_subject",
    "calibration_windows",
    "check_calibration",
    "known_subjects",
    "reference_steps",
]

#: Seconds between the ends of consecutive calibration windows: dense, so that
#: a minute of EEG gives a few hundred windows for the references and the
#: out-of-distribution score's null distances.
CALIBRATION_HOP = 0.25


def reference_steps(estimator):
    """The fitted steps of ``estimator`` that keep per-subject references.

    :class:`~skeeg2bold.features.SubjectAlignment`,
    :class:`~skeeg2bold.features.BandCovariances` with re-centring, in a
    pipeline, a search, an ensemble or a wrapper: such a model needs the
    subject's reference (its EEG alone) before it can predict on one
    window of a new subject.

    Returns
    -------
    steps : list of estimators
    """
    from ..features._subject import SubjectReferenceMixin

    found, seen, stack = [], set(), [estimator]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, SubjectReferenceMixin):
            if getattr(item, "_references", None) is not None:
                found.append(item)
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif hasattr(item, "get_params"):
            stack.extend(v for k, v in vars(item).items() if k.endswith("_") or k == "steps")
    return found


def known_subjects(estimator):
    """Subjects whose references every reference step of ``estimator`` has (None: no step)."""
    steps = reference_steps(estimator)
    if not steps:
        return None
    sets = [set(step._references.references) for step in steps]
    return set.intersection(*sets)


def check_calibration(estimator, subject, calibration, signature):
    """Check ``subject`` and ``calibration`` against the model's references.

    Parameters
    ----------
    estimator : fitted estimator
    subject : str or None
    calibration : float, Raw, path-like or None
        As :class:`~skeeg2bold.online.OnlineTwin` takes it.
    signature : WindowSignature

    Returns
    -------
    seconds : float or None
        Seconds of the stream to calibrate on; ``None`` when ``calibration``
        is a recording or not given.

    Raises
    ------
    ValueError
        A calibration without ``subject``, or for a subject the model knows;
        a model with per-subject references and a subject it does not know,
        without calibration; seconds shorter than a window.
    """
    from .._validation import check_positive

    known = known_subjects(estimator)
    if calibration is None:
        if known is not None and (subject is None or str(subject) not in known):
            raise ValueError(
                f"the model keeps per-subject references (aligned or Riemannian steps) "
                f"and subject={subject!r} is not one of its subjects "
                f"({sorted(known)!r:.200}); give subject= of one, or calibration= "
                "(a recording or seconds of the stream) for a new subject."
            )
        return None
    if subject is None:
        raise ValueError("calibration= needs subject=: the new subject's label.")
    if known is not None and str(subject) in known:
        raise ValueError(
            f"subject={subject!r} is a subject the model was fitted or calibrated on; "
            "give a new subject's label to calibrate."
        )
    if not isinstance(calibration, (int, float)) or isinstance(calibration, bool):
        return None
    seconds = check_positive(calibration, "calibration")
    if seconds < signature.window:
        raise ValueError(
            f"calibration={calibration:g} s is shorter than one window ({signature.window:g} s)."
        )
    return seconds


def calibrate_subject(estimator, windows):
    """Learn the references of the windows' subject in every reference step.

    Parameters
    ----------
    estimator : fitted estimator
        Changed in place: its reference steps gain the subject.
    windows : EEGWindows
        The subject's calibration windows, labelled with it.

    Returns
    -------
    steps : list of estimators
        The steps calibrated.
    """
    steps = reference_steps(estimator)
    for step in steps:
        step.calibrate(windows)
    return steps


def calibration_windows(
    eeg, *, sfreq, ch_names, signature, subject, hop=CALIBRATION_HOP, cwl_regression=None
):
    """Windows of a continuous calibration recording, as the model takes them.

    Parameters
    ----------
    eeg : mne.io.BaseRaw, path-like or ndarray of shape (n_channels, n_times)
        The calibration EEG: a Raw, a file :func:`mne.io.read_raw` opens
        (EEG in volts, as MNE keeps it) or an array in volts.
    sfreq : float or None
        Rate of an array (ignored for a Raw or a file).
    ch_names : list of str or None
        Channels of an array (ignored for a Raw or a file).
    signature : WindowSignature
        The model's channels, rate and window length.
    subject : str
        Label of the windows.
    hop : float, default=CALIBRATION_HOP
        Seconds between consecutive window ends.
    cwl_regression : CWLRegression, default=None
        Applied (offline, with ``causal=False``) to a Raw or file that has
        carbon-wire loop channels, as the training EEG was cleaned; one
        without them is taken as cleaned already, with a warning.

    Returns
    -------
    windows : EEGWindows
    """
    import mne

    if isinstance(eeg, (str, os.PathLike)):
        from ..io._files import read_file

        if not os.path.isfile(eeg):
            raise FileNotFoundError(f"calibration EEG file {os.fspath(eeg)!r} not found")
        eeg = read_file(mne.io.read_raw, eeg, "calibration EEG", preload=True, verbose="error")
    if isinstance(eeg, mne.io.BaseRaw):
        if cwl_regression is not None:
            eeg = _clean_calibration(eeg, cwl_regression)
        sfreq, ch_names, eeg = eeg.info["sfreq"], eeg.ch_names, eeg.get_data()
    eeg = np.asarray(eeg, dtype=np.float64)
    if ch_names is None or sfreq is None:
        raise ValueError("a calibration array needs sfreq= and ch_names=.")
    wanted = signature.ch_names or list(ch_names)[: signature.n_channels]
    missing = [c for c in wanted if c not in ch_names]
    if missing:
        raise ValueError(
            f"the calibration EEG lacks channel(s) {missing} of the model; it has {list(ch_names)}."
        )
    eeg = eeg[[list(ch_names).index(c) for c in wanted]]
    if not np.all(np.isfinite(eeg)):
        raise ValueError("the calibration EEG holds NaN or infinite samples.")
    eeg = resample(eeg, polyphase_ratio(sfreq, signature.sfreq, subject))
    n_times = signature.n_times
    hop_samples = max(int(round(hop * signature.sfreq)), 1)
    ends = np.arange(n_times, eeg.shape[1] + 1, hop_samples)
    if ends.size == 0:
        raise ValueError(
            f"the calibration EEG ({eeg.shape[1] / signature.sfreq:.1f} s) is shorter "
            f"than one window ({signature.window:g} s)."
        )
    X = np.stack([eeg[:, end - n_times : end] for end in ends])
    return EEGWindows.from_array(
        X,
        sfreq=signature.sfreq,
        ch_names=wanted,
        groups=np.full(len(X), str(subject), dtype=object),
    )


def _clean_calibration(raw, cwl_regression):
    """The calibration Raw cleaned offline by ``cwl_regression``, as the training EEG was."""
    from sklearn.base import clone

    from ..preprocessing._cwl import CW_PATTERN

    if cwl_regression.cw_names is None and not any(CW_PATTERN.match(n) for n in raw.ch_names):
        warnings.warn(
            "the model was trained on EEG cleaned by carbon-wire loop regression, but the "
            "calibration EEG has no loop channels (CW1, CW2, ...): it is taken as cleaned "
            "already.",
            UserWarning,
            stacklevel=4,
        )
        return raw
    return clone(cwl_regression).set_params(causal=False).transform(raw)
