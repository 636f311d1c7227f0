"""Polyphase resampling: one ratio rule for windowing and the online twin."""

from fractions import Fraction

import numpy as np

__all__ = ["MAX_RATIO_DENOMINATOR", "polyphase_ratio", "resample"]

#: Largest denominator of the polyphase up/down ratio (scipy's FIR grows with it).
MAX_RATIO_DENOMINATOR = 1000


def polyphase_ratio(sfreq, new_sfreq, subject):
    """The up/down ratio that takes ``sfreq`` to ``new_sfreq`` exactly.

    Upsampling is refused, as are rates that no ratio with a denominator up
    to :data:`MAX_RATIO_DENOMINATOR` reaches: upsampling adds no information
    and multiplies memory (``sfreq=1e9`` would ask for terabytes), and a rate
    that the ratio only approximates would shift every window's timing
    against the BOLD.

    Parameters
    ----------
    sfreq : float
        Rate of the EEG (Hz).
    new_sfreq : float
        Rate wanted (Hz).
    subject : str
        Whose EEG it is, for the error message.

    Returns
    -------
    ratio : fractions.Fraction or None
        ``new_sfreq / sfreq``; ``None`` when the rates are equal.

    Raises
    ------
    ValueError
        ``new_sfreq`` is above ``sfreq`` or not reached exactly.
    """
    if np.isclose(sfreq, new_sfreq):
        return None
    if new_sfreq > sfreq:
        raise ValueError(
            f"sfreq={new_sfreq:g} Hz is above the {sfreq:g} Hz of subject {subject!r}'s "
            "EEG; windows can only be downsampled (upsampling adds no information)."
        )
    ratio = Fraction(new_sfreq / sfreq).limit_denominator(MAX_RATIO_DENOMINATOR)
    reached = sfreq * ratio.numerator / ratio.denominator
    if ratio.numerator == 0 or not np.isclose(reached, new_sfreq, rtol=1e-9, atol=0):
        raise ValueError(
            f"sfreq={new_sfreq:g} Hz cannot be reached exactly from the {sfreq:g} Hz of "
            f"subject {subject!r}'s EEG (closest polyphase ratio gives {reached:g} Hz); "
            f"choose a rate that is sfreq * p / q with q <= {MAX_RATIO_DENOMINATOR}."
        )
    return ratio


def resample(eeg, ratio, *, padtype="constant"):
    """Polyphase resampling along the last axis by ``ratio``.

    scipy's anti-aliasing FIR (what mne's ``method="polyphase"`` calls),
    used directly because it keeps float32.

    Parameters
    ----------
    eeg : ndarray of shape (n_channels, n_times)
    ratio : fractions.Fraction or None
        From :func:`polyphase_ratio`; ``None`` returns ``eeg`` unchanged.
    padtype : str, default="constant"
        Passed to :func:`scipy.signal.resample_poly`. ``"line"`` suits a
        window cut from a longer signal (the online twin).

    Returns
    -------
    ndarray of shape (n_channels, n_times_resampled)
    """
    if ratio is None:
        return eeg
    from scipy.signal import resample_poly

    return resample_poly(eeg, ratio.numerator, ratio.denominator, axis=-1, padtype=padtype)
