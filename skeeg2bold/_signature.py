"""What a fitted estimator expects of its EEG: channels, sampling rate, window length."""

from dataclasses import dataclass

__all__ = ["WindowSignature", "window_signature"]


@dataclass(frozen=True)
class WindowSignature:
    """The EEG windows a fitted estimator was trained on.

    Attributes
    ----------
    ch_names : list of str or None
        Channel names in the model's order; ``None`` when the model was
        fitted on plain arrays and never saw names.
    n_channels : int
    sfreq : float
    n_times : int
        Samples per window.
    owner : str
        Class name of the step that recorded these (for error messages).
    """

    ch_names: list
    n_channels: int
    sfreq: float
    n_times: int
    owner: str

    @property
    def window(self):
        """Window length in seconds."""
        return self.n_times / self.sfreq


def window_signature(estimator):
    """Read channel names, sampling rate and window length off a fitted estimator.

    The first step that sees the EEG records them at ``fit``:
    :class:`~skeeg2bold.nn.EEG2BoldRegressor` and
    :class:`~skeeg2bold.features.EnvelopeFeatureExtractor` as ``ch_names_``,
    ``sfreq_`` and ``n_times_``. Wrappers are unwrapped: a
    :class:`~sklearn.pipeline.Pipeline` by its first step,
    :class:`~sklearn.compose.TransformedTargetRegressor` by ``regressor_``,
    a search by ``best_estimator_``, a
    :class:`~skeeg2bold.uncertainty.ConformalRegressor` by ``estimator_``, a
    :class:`~skeeg2bold.ensemble.SeedEnsembleRegressor` by its members (which
    must agree).

    Parameters
    ----------
    estimator : fitted estimator

    Returns
    -------
    signature : WindowSignature

    Raises
    ------
    ValueError
        If the estimator is not fitted or no step records the sampling rate
        and window length.
    """
    inner = _first_eeg_step(estimator)
    if isinstance(inner, list):  # ensemble members
        signatures = [window_signature(member) for member in inner]
        first = signatures[0]
        if any(s != first for s in signatures[1:]):
            raise ValueError(
                f"the members of {type(estimator).__name__} were fitted on different "
                "windows (channels, sampling rate or length); they cannot share a stream."
            )
        return first
    sfreq, n_times = getattr(inner, "sfreq_", None), getattr(inner, "n_times_", None)
    if sfreq is None or n_times is None:
        raise ValueError(
            f"{type(estimator).__name__} does not record the sampling rate and window "
            f"length of its EEG (its first step {type(inner).__name__} has no fitted "
            "sfreq_ and n_times_); fit it first, on windows from make_windows."
        )
    ch_names = getattr(inner, "ch_names_", None)
    if ch_names is not None and not getattr(inner, "_names_known", True):
        ch_names = None  # placeholder names ("ch0", ...) of a plain-array fit
    n_channels = getattr(inner, "n_chans_", None) or getattr(inner, "n_channels_", None)
    if n_channels is None:
        n_channels = getattr(inner, "n_features_in_", None)
    if n_channels is None and ch_names is not None:
        n_channels = len(ch_names)
    return WindowSignature(
        ch_names=None if ch_names is None else [str(c) for c in ch_names],
        n_channels=int(n_channels),
        sfreq=float(sfreq),
        n_times=int(n_times),
        owner=type(inner).__name__,
    )


def _first_eeg_step(estimator):
    """The step that sees raw windows, or the list of an ensemble's members."""
    for attribute in ("best_estimator_", "regressor_", "estimator_"):
        if hasattr(estimator, attribute):
            return _first_eeg_step(getattr(estimator, attribute))
    members = getattr(estimator, "estimators_", None)
    if isinstance(members, list) and members and not hasattr(estimator, "sfreq_"):
        return members
    steps = getattr(estimator, "steps", None)
    if steps:
        first = steps[0][1]
        if first in (None, "passthrough"):
            raise ValueError("the first step of the pipeline is a passthrough.")
        return _first_eeg_step(first)
    if not any(name.endswith("_") and not name.startswith("__") for name in vars(estimator)):
        raise ValueError(f"{type(estimator).__name__} is not fitted; fit it first.")
    return estimator
