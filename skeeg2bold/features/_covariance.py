"""Band covariance matrices of EEG windows and their tangent space (pyriemann)."""

import functools

import numpy as np
import scipy.fft as sp_fft
from scipy.signal.windows import hann
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._validation import check_int, check_real_array, fit_sfreq, fourier_band_masks
from ..utils._docs import fill_doc
from ._envelope import _check_bands, _check_windows
from ._subject import SubjectReferenceMixin, SubjectReferences, check_not_flat, window_groups

__all__ = ["BandCovariances", "TangentSpaceFeatures"]

#: BLAS threads for the batches of small (channels x channels) matrices:
#: more threads than one only wait on each other at this size, and on a busy
#: machine a 30x30 eigendecomposition batch ran many times slower with two.
_SMALL_MATRIX_THREADS = 1
#: pyriemann estimators that take ``assume_centered``.
_CENTRED_ESTIMATORS = ("lwf", "oas", "scm")
#: Windows per batch of FFTs: bounds the memory of one batch of spectra.
_BATCH = 64
#: A covariance is singular when its least eigenvalue is at most this
#: fraction of its largest: below float64 rounding of rank-deficient EEG
#: (average reference, duplicated channels) and far below any real signal.
_SINGULAR_RTOL = 1e-10


def _one_blas_thread(method):
    """Run ``method`` with :data:`_SMALL_MATRIX_THREADS` BLAS threads."""

    @functools.wraps(method)
    def wrapped(*args, **kwargs):
        with threadpool_limits(_SMALL_MATRIX_THREADS, user_api="blas"):
            return method(*args, **kwargs)

    return wrapped


class BandCovariances(SubjectReferenceMixin, TransformerMixin, BaseEstimator):
    """Spatial covariance of every window in every band and time bin.

    Each window is cut into ``n_bins`` contiguous bins ending at its last
    sample; each bin is Hann-tapered and Fourier transformed, and the
    Fourier coefficients inside a band are the samples of that band's
    (complex) covariance, estimated by a pyriemann estimator (``"oas"``
    shrinkage by default). The real part, the co-spectrum summed over the
    band, is the covariance of the band-passed bin. Band power of any
    spatial filter ``w`` in a bin is then ``w.T @ C @ w``: everything a
    model that unmixes sources by spatial filters and reads their band
    power needs, in ``n_bands * n_bins`` small matrices per window.

    With ``recenter=True`` each subject's matrices are re-centred at the
    subject's own Riemannian mean of each band (Zanini et al. 2018):
    ``M^{-1/2} C M^{-1/2}``, which removes what differs between heads and
    caps (head size, source depth) while keeping the changes within a
    recording. Each channel is first divided by its standard deviation over
    the subject's windows (:attr:`channel_scales_`) and multiplied by the
    common :attr:`channel_profile_`, before the shrinkage estimator:
    shrinkage toward the identity is not invariant to channel gains, and
    re-centring alone removes them only up to a rotation, so this is what
    makes the output exactly invariant to a gain per channel and subject (a
    test checks it), while the shrinkage meets channels of the usual
    relative powers. The references are learned in :meth:`fit`
    from each subject's own windows; a subject not seen in ``fit``, and
    windows without a subject label, get their reference from the windows
    passed to :meth:`transform` (their EEG only, never BOLD;
    ``unseen_subjects="error"`` forbids this). A subject comes from
    ``X.groups`` when ``X`` is an :class:`~skeeg2bold.EEGWindows`, else
    from ``groups``; plain arrays without ``groups`` are one subject (with
    a :class:`~skeeg2bold.features.SubjectLabelWarning` in ``fit``). A
    flat channel (zero variance over a subject's windows) raises
    ``ValueError`` naming the channel and the subject; rank-deficient EEG
    (average reference) is fine with a shrinkage estimator (``"oas"``,
    ``"lwf"``), which keeps every matrix definite.

    Only the samples inside each window are used, so the same windows as an
    EEGWindows or as a plain array give the same matrices, and an online
    twin that sees nothing after the window's end computes them too.

    Parameters
    ----------
    sfreq : float, default=None
        EEG sampling rate (Hz); taken from ``X.sfreq`` for EEGWindows,
        required for plain arrays.
    bands : dict or list of (float, float), default=None
        Filter bank, as in :class:`EnvelopeFeatureExtractor` (``None``: delta
        to gamma). A band needs at least one Fourier frequency of a bin.
    n_bins : int, default=3
        Contiguous bins each window is cut into (the last ends at the
        window's last sample; leftover samples at the start are unused).
    estimator : str, default="oas"
        Covariance estimator of :func:`pyriemann.geometry.covariance.covariances`
        (``"oas"``, ``"lwf"``, ``"scm"``, ...). Shrinkage keeps the matrices
        of narrow bands, which have few Fourier samples, invertible.
    recenter : bool, default=True
        Re-centre each subject's matrices at its own Riemannian mean.
    unseen_subjects : {"eeg", "error"}, default="eeg"
        For a subject not seen in ``fit``: take its reference from the EEG
        being transformed, or raise ``ValueError``.

    Attributes
    ----------
    sfreq_ : float
    bands_ : dict
        Band name -> ``(l_freq, h_freq)``.
    ch_names_ : list of str
    n_channels_, n_times_, n_features_in_ : int
    bin_samples_ : int
        Samples per bin.
    references_ : dict
        Subject -> ndarray of shape (n_bands, n_channels, n_channels): the
        Riemannian mean each subject's matrices were re-centred at
        (``recenter=True`` only).
    channel_scales_ : dict
        Subject -> ndarray of shape (n_channels,): the standard deviation
        of each of its channels over its windows (``recenter=True`` only).
    channel_profile_ : ndarray of shape (n_channels,)
        Geometric mean of the channel standard deviations of the subjects
        in ``fit``: every subject's channels are brought to it
        (``recenter=True`` only).

    See Also
    --------
    TangentSpaceFeatures : Tangent vectors of the matrices, for linear models.
    skeeg2bold.baselines.make_riemann_baseline : Covariances, tangent space, ridge.
    SubjectAlignment : Euclidean alignment of the EEG itself.

    Notes
    -----
    ``transform`` returns an array of shape ``(n_windows, n_bands, n_bins,
    n_channels, n_channels)``. Bins of a few seconds hold few Fourier
    samples in a narrow band (delta over 2 s: 6), fewer than the channels;
    shrinkage is what makes such covariances usable.

    References
    ----------
    Sabbagh et al. (2020), NeuroImage 222, 116893; Barachant et al. (2013),
    Neurocomputing 112, 172-178; Zanini et al. (2018), IEEE TBME 65(5).
    """

    def __init__(
        self,
        sfreq=None,
        *,
        bands=None,
        n_bins=3,
        estimator="oas",
        recenter=True,
        unseen_subjects="eeg",
    ):
        self.sfreq = sfreq
        self.bands = bands
        self.n_bins = n_bins
        self.estimator = estimator
        self.recenter = recenter
        self.unseen_subjects = unseen_subjects

    @fill_doc
    def fit(self, X, y=None, groups=None):
        """Check the parameters against ``X`` and learn each subject's reference.

        Parameters
        ----------
        %(X_windows)s
        %(y_ignored)s
        %(groups)s

        Returns
        -------
        self : BandCovariances
        """
        self.fit_transform(X, groups=groups)
        return self

    def fit_transform(self, X, y=None, groups=None):
        """Fit and return the (re-centred) covariances of ``X``."""
        X = _check_windows(X)
        self._check_params(X)
        if not self.recenter:
            self._references = None
            return self._statistics(X)
        owner = type(self).__name__
        groups = window_groups(X, groups, fitting=True, owner=owner)
        self._scales = SubjectReferences(
            _channel_scale, self.unseen_subjects, owner, self.ch_names_
        )
        self._references = SubjectReferences(
            _riemann_means, self.unseen_subjects, owner, self.ch_names_
        )
        variances = _channel_variances(X)
        self._scales.fit(groups, variances)
        per_subject = self._scales.lookup(groups, variances)
        # The channel profile all subjects are brought to: the geometric mean
        # of the fitted subjects' channel standard deviations.
        self.channel_profile_ = np.exp(np.mean(np.log(list(per_subject.values())), axis=0))
        scales = self._window_scales(groups, per_subject, len(X))
        covs = self._statistics(X, scales)
        self._references.fit(groups, covs)
        self.references_ = self._references.references
        self.channel_scales_ = self._scales.references
        return self._recenter(covs, groups, self._references.lookup(groups, covs))

    def _add_references(self, X, groups, replace):
        self._scales.add(groups, _channel_variances(X), replace)  # refuses first
        scales = self._window_scales(groups, self._scales.lookup(groups, None), len(X))
        covs = self._statistics(X, scales)
        self._references.add(groups, covs, replace=True)

    @fill_doc
    def transform(self, X, groups=None):
        """Covariances of every window, band and bin.

        Parameters
        ----------
        %(X_windows)s
        %(groups)s

        Returns
        -------
        covariances : ndarray of shape (n_windows, n_bands, n_bins, n_channels, n_channels)
        """
        check_is_fitted(self, "bin_samples_")
        X = self._check_input(X)
        if self._references is None:
            return self._statistics(X)
        groups = window_groups(X, groups)
        seen = {str(g) for g in np.unique(groups)} <= set(self.references_)
        variances = None if seen else _channel_variances(X)
        scales = self._window_scales(groups, self._scales.lookup(groups, variances), len(X))
        covs = self._statistics(X, scales)
        return self._recenter(covs, groups, self._references.lookup(groups, covs))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- internals --------------------------------------------------------
    def _check_params(self, X):
        n_times = X.shape[2]
        self.sfreq_ = fit_sfreq(self.sfreq, X, type(self).__name__)
        self._record_windows(X)
        n_bins = check_int(self.n_bins, "n_bins", min_value=1)
        self.bin_samples_ = n_times // n_bins
        if self.bin_samples_ < 2:
            raise ValueError(
                f"n_bins={n_bins} leaves {self.bin_samples_} sample(s) per bin of the "
                f"{n_times}-sample windows; use fewer bins."
            )
        self.bands_ = _check_bands(self.bands, self.sfreq_)
        self._masks = fourier_band_masks(self.bands_, self.bin_samples_, self.sfreq_)
        if not isinstance(self.estimator, str) and not callable(self.estimator):
            raise ValueError(
                f"estimator must be a pyriemann estimator name, got {self.estimator!r}."
            )

    def _window_scales(self, groups, per_subject, n):
        """What each window's channels are divided by: its subject's channel
        standard deviations over the common :attr:`channel_profile_`."""
        return _per_window(groups, per_subject, n) / self.channel_profile_

    @_one_blas_thread
    def _statistics(self, X, scales=None):
        """Covariances of every window, band and bin, before re-centring.

        ``scales`` (n_windows, n_channels): each window's channels are
        divided by them first.
        """
        n, n_channels, n_times = X.shape
        n_bins, n_bin = self.n_bins, self.bin_samples_
        taper = hann(n_bin, sym=False)
        out = np.empty((n, len(self._masks), n_bins, n_channels, n_channels))
        for lo in range(0, n, _BATCH):
            batch = np.asarray(X[lo : lo + _BATCH], dtype=np.float64)
            if scales is not None:
                batch = batch / scales[lo : lo + len(batch), :, None]
            bins = batch[..., n_times - n_bins * n_bin :].reshape(
                len(batch), n_channels, n_bins, n_bin
            )
            spectra = sp_fft.rfft(bins.transpose(0, 2, 1, 3) * taper, axis=-1)
            for b, mask in enumerate(self._masks):
                out[lo : lo + len(batch), b] = _band_covariance(spectra[..., mask], self.estimator)
        self._check_definite(out)
        return out

    def _check_definite(self, covs):
        """Refuse windows without power in a band: they have no geometry to compare."""
        if self.estimator == "oas":  # shrinkage makes any matrix with power definite
            bad = np.trace(covs, axis1=-2, axis2=-1) <= 0
        else:
            eigenvalues = np.linalg.eigvalsh(covs)
            bad = eigenvalues[..., 0] <= _SINGULAR_RTOL * np.abs(eigenvalues[..., -1])
        if bad.any():
            window, band, time_bin = np.argwhere(bad)[0]
            raise ValueError(
                f"{int(bad.any(axis=(1, 2)).sum())} window(s) have a singular covariance, the "
                f"first window {window} in band {list(self.bands_)[band]!r} (bin {time_bin}): "
                "flat or all-zero EEG there, rank-deficient EEG (average reference, "
                "duplicated channels) or fewer Fourier samples than channels with "
                f"estimator={self.estimator!r}. Remove flat windows or channels, or use a "
                "shrinkage estimator (estimator='oas')."
            )

    @staticmethod
    @_one_blas_thread
    def _recenter(covs, groups, references):
        from pyriemann.geometry.base import invsqrtm

        out = np.empty_like(covs)
        for g, ref in references.items():
            rows = groups == g
            whitener = invsqrtm(ref)[:, None]  # (n_bands, 1, C, C): every bin alike
            out[rows] = whitener @ covs[rows] @ whitener
        return out


class TangentSpaceFeatures(TransformerMixin, BaseEstimator):
    """Tangent vectors of covariance matrices, one block per band and bin.

    The matrices of each band (all its bins together) are mapped to the
    tangent space at their Riemannian mean over the training windows
    (:func:`pyriemann.geometry.tangentspace.tangent_space`), and the upper
    triangles, off-diagonal entries weighted by sqrt(2), are concatenated.
    After per-subject re-centring (:class:`BandCovariances`) that mean is
    close to the identity. Linear models on these vectors approximate
    linear models on the log band power of every spatial filter.

    Parameters
    ----------
    metric : str, default="riemann"
        Metric of the mean and of the tangent space (pyriemann's names).

    Attributes
    ----------
    references_ : ndarray of shape (n_bands, n_channels, n_channels)
        Mean of each band's matrices.
    n_features_out_ : int
    """

    def __init__(self, metric="riemann"):
        self.metric = metric

    @_one_blas_thread
    def fit(self, X, y=None):
        """Learn each band's reference point.

        Parameters
        ----------
        X : ndarray of shape (n_windows, n_bands, n_bins, n_channels, n_channels)
        y : ignored

        Returns
        -------
        self : TangentSpaceFeatures
        """
        X = _check_covariances(X)
        n_bands, _, n_channels = X.shape[1:4]
        self.references_ = np.stack([_mean(m, self.metric) for m in _per_band(X)])
        self.n_features_in_ = n_bands
        self.n_features_out_ = X.shape[1] * X.shape[2] * n_channels * (n_channels + 1) // 2
        return self

    @_one_blas_thread
    def transform(self, X):
        """Tangent vectors.

        Shape ``(n_windows, n_bands * n_bins * n_channels * (n_channels + 1) / 2)``.
        """
        from pyriemann.geometry.tangentspace import tangent_space

        check_is_fitted(self, "references_")
        X = _check_covariances(X)
        if X.shape[1] != len(self.references_) or X.shape[3] != self.references_.shape[1]:
            raise ValueError(
                f"X holds {X.shape[1]} bands of {X.shape[3]}x{X.shape[3]} matrices but "
                f"TangentSpaceFeatures was fitted on {len(self.references_)} bands of "
                f"{self.references_.shape[1]}x{self.references_.shape[1]}."
            )
        vectors = [
            tangent_space(X[:, b], ref, metric=self.metric)
            for b, ref in enumerate(self.references_)
        ]
        return np.stack(vectors, axis=1).reshape(len(X), -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


def _band_covariance(coefficients, estimator):
    """Real part of the covariance of complex Fourier coefficients ``(..., C, n_freqs)``."""
    if estimator == "oas":
        return _oas_cospectrum(coefficients)
    from pyriemann.geometry.covariance import covariances

    # Fourier coefficients of a band are zero-mean samples: no centring
    # (centring one coefficient would leave nothing).
    kwargs = {"assume_centered": True} if estimator in _CENTRED_ESTIMATORS else {}
    return covariances(coefficients, estimator=estimator, **kwargs).real


def _oas_cospectrum(coefficients):
    """``covariances(coefficients, estimator="oas").real`` of pyriemann, batched.

    pyriemann estimates complex OAS covariances one matrix at a time through
    scikit-learn (the real and imaginary parts stacked as 2C real channels,
    Abrahamsson et al. 2007); this is the same formula on the whole batch,
    about 100x faster for the thousands of small matrices of a data set
    (a test checks equality with pyriemann, ``assume_centered=True``).
    """
    n_channels, n_samples = coefficients.shape[-2:]
    stacked = np.concatenate([coefficients.real, coefficients.imag], axis=-2)
    scm = stacked @ np.swapaxes(stacked, -1, -2) / n_samples
    n_features = 2 * n_channels
    mu = np.trace(scm, axis1=-2, axis2=-1) / n_features
    alpha = np.mean(scm**2, axis=(-2, -1))
    num = alpha + mu**2
    den = (n_samples + 1) * (alpha - mu**2 / n_features)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrinkage = np.where(den == 0, 1.0, np.minimum(num / den, 1.0))
    real = scm[..., :n_channels, :n_channels] + scm[..., n_channels:, n_channels:]
    real *= (1.0 - shrinkage)[..., None, None]
    real += (2.0 * shrinkage * mu)[..., None, None] * np.eye(n_channels)
    return real


def _check_covariances(X):
    X = check_real_array(X, "X")
    if X.ndim != 5 or X.shape[-1] != X.shape[-2]:
        raise ValueError(
            "X must hold covariance matrices of shape (n_windows, n_bands, n_bins, "
            f"n_channels, n_channels) as BandCovariances returns, got shape {X.shape}."
        )
    return X


def _channel_variances(X):
    """Variance of every channel of every window (its mean removed), float64."""
    out = np.empty(X.shape[:2])
    for lo in range(0, len(X), _BATCH):
        batch = np.asarray(X[lo : lo + _BATCH], dtype=np.float64)
        out[lo : lo + len(batch)] = batch.var(axis=-1)
    return out


def _channel_scale(variances):
    """A subject's channel standard deviations over its windows; flat channels refused."""
    mean = variances.mean(axis=0)
    check_not_flat(mean)
    return np.sqrt(mean)


def _per_window(groups, per_subject, n):
    """``(n, ...)`` array of each window's subject's value."""
    first = next(iter(per_subject.values()))
    out = np.empty((n,) + np.shape(first))
    for g, value in per_subject.items():
        out[groups == g] = value
    return out


@_one_blas_thread
def _riemann_means(covs):
    """Riemannian mean of each band over a subject's windows and bins."""
    return np.stack([_mean(m, "riemann") for m in _per_band(covs)])


def _per_band(covs):
    """(n_windows, n_bands, n_bins, C, C) -> (n_bands, n_windows * n_bins, C, C)."""
    n_bands, n_channels = covs.shape[1], covs.shape[-1]
    return covs.transpose(1, 0, 2, 3, 4).reshape(n_bands, -1, n_channels, n_channels)


def _mean(matrices, metric):
    """pyriemann's mean; the Riemannian one started at the log-Euclidean mean.

    From there pyriemann's fixed point reaches tol=1e-4 (norm of the mean
    tangent step) in a few iterations, within ~1e-6 (Riemannian distance)
    of the fully converged mean on simulated EEG, where its default start
    and tolerance took 5-10x longer.
    """
    from pyriemann.geometry.mean import mean_covariance, mean_logeuclid, mean_riemann

    if metric == "riemann":
        return mean_riemann(matrices, init=mean_logeuclid(matrices), tol=1e-4)
    return mean_covariance(matrices, metric=metric)
