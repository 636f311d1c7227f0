"""Factories for the classical EEG-to-BOLD baselines."""

from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .._constants import RIDGE_ALPHAS
from .._validation import validate_type
from ..features import (
    BandCovariances,
    EnvelopeFeatureExtractor,
    HRFConvolution,
    TangentSpaceFeatures,
)

__all__ = ["make_ridge_baseline", "make_hrf_baseline", "make_riemann_baseline"]

#: Ridge penalties searched by default.
DEFAULT_ALPHAS = RIDGE_ALPHAS


def make_ridge_baseline(
    sfreq=None,
    *,
    bands=None,
    envelope="hilbert",
    smoothing=1.0,
    out_sfreq=2.0,
    lags=None,
    log=False,
    alphas=DEFAULT_ALPHAS,
    cv=5,
    alpha_per_target=False,
    n_jobs=None,
    memory=None,
):
    """Lagged band envelopes -> scaling -> ridge: the temporal-response-function baseline.

    Every channel's envelope in every band is read at several delays before
    the window's end, and a ridge regression weighs them: a multivariate
    temporal response function (as :class:`mne.decoding.ReceptiveField`),
    the family of EEG fingerprint models of BOLD.

    Parameters
    ----------
    sfreq : float, default=None
        EEG sampling rate; ``None`` reads it from
        :class:`~skeeg2bold.EEGWindows`.
    bands, envelope, smoothing, out_sfreq, lags, log, n_jobs
        Passed to :class:`~skeeg2bold.features.EnvelopeFeatureExtractor`
        (``layout="lagged"``). ``log=True`` regresses on log envelopes
        (log-amplitude, to which BOLD responds more linearly); the default
        keeps the classical linear envelopes. Both are compared in
        ``benchmarks/RESULTS.md``.
    alphas : array-like of float, default=8 values from 0.1 to 1e6
        Penalties tried by :class:`~sklearn.linear_model.RidgeCV`.
    cv : int, cross-validation generator or None, default=5
        How ``RidgeCV`` picks the penalty on the training windows. An int is
        that many contiguous (unshuffled) blocks. ``None`` is RidgeCV's fast
        leave-one-out, which is optimistic here: neighbouring windows
        overlap, so it picks too little shrinkage.
    alpha_per_target : bool, default=False
        One penalty per target; RidgeCV allows it with ``cv=None`` only.
    memory : str or joblib.Memory, default=None
        Cache of fitted transformers (``Pipeline(memory=...)``): in a grid
        search over ``ridgecv__alphas`` the envelopes are then computed
        once per split.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``envelopefeatureextractor``, ``standardscaler``, ``ridgecv``;
        search them as ``envelopefeatureextractor__bands``,
        ``ridgecv__alphas``, ...

    See Also
    --------
    make_hrf_baseline : Envelopes convolved with a canonical HRF.

    Examples
    --------
    >>> from skeeg2bold.baselines import make_ridge_baseline
    >>> model = make_ridge_baseline(250.0, bands={"alpha": (8, 13)})
    >>> [name for name, _ in model.steps]
    ['envelopefeatureextractor', 'standardscaler', 'ridgecv']
    """
    extractor = EnvelopeFeatureExtractor(
        sfreq=sfreq,
        bands=bands,
        envelope=envelope,
        smoothing=smoothing,
        out_sfreq=out_sfreq,
        lags=lags,
        layout="lagged",
        log=log,
        n_jobs=n_jobs,
    )
    return make_pipeline(
        extractor,
        StandardScaler(),
        RidgeCV(alphas=alphas, cv=cv, alpha_per_target=alpha_per_target),
        memory=memory,
    )


def make_hrf_baseline(
    sfreq=None,
    *,
    bands=None,
    envelope="hilbert",
    smoothing=1.0,
    out_sfreq=2.0,
    log=False,
    hrf_model="glover",
    time_length=32.0,
    alphas=DEFAULT_ALPHAS,
    cv=5,
    alpha_per_target=False,
    n_jobs=None,
    memory=None,
):
    """Band envelopes -> canonical HRF -> scaling -> ridge: the EEG-informed fMRI model.

    Each channel-band envelope is convolved with a canonical haemodynamic
    response (Goldman et al. 2002; Laufs et al. 2003) and read at the
    window's end; a ridge regression weighs the resulting regressors. Far
    fewer features than :func:`make_ridge_baseline` (one per channel, band
    and HRF basis), at the price of a fixed response shape.

    Parameters
    ----------
    sfreq : float, default=None
        EEG sampling rate; ``None`` reads it from
        :class:`~skeeg2bold.EEGWindows`.
    bands, envelope, smoothing, out_sfreq, log, n_jobs
        Passed to :class:`~skeeg2bold.features.EnvelopeFeatureExtractor`
        (``layout="series"``). ``log=True`` convolves log envelopes (compared
        with the default in ``benchmarks/RESULTS.md``).
    hrf_model, time_length
        Passed to :class:`~skeeg2bold.features.HRFConvolution`, which reads
        the envelopes' rate (``out_sfreq``) from the series it receives, so
        ``envelopefeatureextractor__out_sfreq`` can be searched alone.
        Windows shorter than the HRF truncate it.
    alphas, cv, alpha_per_target, memory
        As in :func:`make_ridge_baseline`.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``envelopefeatureextractor``, ``hrfconvolution``,
        ``standardscaler``, ``ridgecv``.

    See Also
    --------
    make_ridge_baseline : Lagged envelopes, no fixed response shape.

    Examples
    --------
    >>> from skeeg2bold.baselines import make_hrf_baseline
    >>> model = make_hrf_baseline(250.0, hrf_model="spm + derivative")
    >>> model.get_params()["envelopefeatureextractor__out_sfreq"]
    2.0
    """
    extractor = EnvelopeFeatureExtractor(
        sfreq=sfreq,
        bands=bands,
        envelope=envelope,
        smoothing=smoothing,
        out_sfreq=out_sfreq,
        layout="series",
        log=log,
        n_jobs=n_jobs,
    )
    return make_pipeline(
        extractor,
        HRFConvolution(hrf_model=hrf_model, time_length=time_length),
        StandardScaler(),
        RidgeCV(alphas=alphas, cv=cv, alpha_per_target=alpha_per_target),
        memory=memory,
    )


def make_riemann_baseline(
    sfreq=None,
    *,
    bands=None,
    n_bins=3,
    estimator="oas",
    recenter=True,
    unseen_subjects="eeg",
    metric="riemann",
    scale=False,
    alphas=DEFAULT_ALPHAS,
    cv=5,
    alpha_per_target=False,
    memory=None,
):
    """Band covariances -> per-subject re-centring -> tangent space -> ridge.

    The Riemannian answer to "regress on source power without a head model"
    (Sabbagh et al. 2020): the covariance of every band and time bin of a
    window holds the band power of every spatial combination of channels,
    so a linear model in its tangent space approximates a linear model on
    the log power of unmixed sources, with no source model. Each subject's
    matrices are re-centred at its own Riemannian mean first (Zanini et al.
    2018), which lets a model trained on some subjects carry over to
    another.

    Parameters
    ----------
    sfreq : float, default=None
        EEG sampling rate; ``None`` reads it from
        :class:`~skeeg2bold.EEGWindows`.
    bands, n_bins, estimator, recenter, unseen_subjects
        Passed to :class:`~skeeg2bold.features.BandCovariances`. Re-centring
        references are learned from each subject's own training windows
        (EEG only); a subject not seen in ``fit`` (a new subject with EEG
        only) is re-centred at the mean of the windows passed to
        ``predict``, unless ``unseen_subjects="error"``; so are windows
        without a subject label (``EEGWindows.from_array`` without
        ``groups``). Each subject's channels are scaled by their standard
        deviations before the shrinkage covariances, so the predictions do
        not change with a gain on any channel of a subject.
    metric : str, default="riemann"
        Passed to :class:`~skeeg2bold.features.TangentSpaceFeatures`.
    scale : bool, default=False
        Standardise every tangent coordinate before the ridge. Off by
        default: the tangent coordinates already share one metric (the
        affine-invariant one, at the re-centred identity), and giving each
        of the many small cross-channel coordinates unit variance raises
        their noise to the weight of the few large ones. The ridge on the
        raw coordinates scored higher in every simulator setting of
        ``benchmarks/bench_unmixing.py`` (see the user guide).
    alphas, cv, alpha_per_target, memory
        As in :func:`make_ridge_baseline`.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``bandcovariances``, ``tangentspacefeatures``, ``ridgecv``
        (``standardscaler`` before ``ridgecv`` with ``scale=True``).

    See Also
    --------
    make_ridge_baseline : Lagged channel envelopes and ridge.
    skeeg2bold.features.SubjectAlignment : Euclidean alignment of the EEG.

    References
    ----------
    Sabbagh et al. (2020), NeuroImage 222, 116893; Zanini et al. (2018),
    IEEE TBME 65(5), 1107-1116.

    Examples
    --------
    >>> from skeeg2bold.baselines import make_riemann_baseline
    >>> model = make_riemann_baseline(n_bins=3)
    >>> [name for name, _ in model.steps]
    ['bandcovariances', 'tangentspacefeatures', 'ridgecv']
    """
    validate_type(scale, bool, "scale")
    return make_pipeline(
        BandCovariances(
            sfreq=sfreq,
            bands=bands,
            n_bins=n_bins,
            estimator=estimator,
            recenter=recenter,
            unseen_subjects=unseen_subjects,
        ),
        TangentSpaceFeatures(metric=metric),
        *([StandardScaler()] if scale else []),
        RidgeCV(alphas=alphas, cv=cv, alpha_per_target=alpha_per_target),
        memory=memory,
    )
