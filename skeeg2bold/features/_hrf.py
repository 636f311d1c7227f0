"""Canonical haemodynamic response applied to envelope time series."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from .._validation import (
    check_eeg_windows_array,
    check_fitted_windows,
    check_option,
    check_positive,
    fit_sfreq,
)

__all__ = ["HRFConvolution"]

_HRF_MODELS = (
    "spm",
    "spm + derivative",
    "spm + derivative + dispersion",
    "glover",
    "glover + derivative",
    "glover + derivative + dispersion",
)
_BASIS_NAMES = ("hrf", "hrf_derivative", "hrf_dispersion")
# nilearn samples its HRFs on a fine grid (t_r / oversampling) that it
# normalises; reading every ``_OVERSAMPLING``-th point gives the kernel at the
# envelope rate without nilearn's slight stretch of a coarse grid.
_OVERSAMPLING = 50


class HRFConvolution(TransformerMixin, BaseEstimator):
    """Convolve envelope time series with a canonical HRF, read at the window end.

    The classical "EEG-informed fMRI" regressor (Goldman et al. 2002; Laufs
    et al. 2003): the BOLD signal at time ``t`` is modelled from EEG band
    power convolved with the haemodynamic response function, here
    ``sum_k hrf(k / sfreq) * x(t - k / sfreq)`` with ``t`` the last sample of
    each window. Each input feature (e.g. ``"Cz_alpha"``) gives one output
    feature per HRF basis function. The HRFs are nilearn's
    (:func:`nilearn.glm.first_level.spm_hrf`, ``glover_hrf`` and their
    time and dispersion derivatives).

    Parameters
    ----------
    sfreq : float, default=None
        Sampling rate (Hz) of the series. ``None`` reads it from ``X.sfreq``:
        the series of :class:`EnvelopeFeatureExtractor` (``layout="series"``)
        carry their rate (its ``out_sfreq``), so a pipeline needs no second
        setting. Required for plain arrays; if both are given they must agree.
    hrf_model : str, default="glover"
        One of ``"spm"``, ``"spm + derivative"``,
        ``"spm + derivative + dispersion"``, ``"glover"``,
        ``"glover + derivative"``, ``"glover + derivative + dispersion"``
        (nilearn's names).
    time_length : float, default=32.0
        Length (s) of the HRF kernel. Only the part that fits in the window
        is used: a 10 s window keeps the rise and the peak (about 5 s) of the
        canonical response but not its undershoot; cut longer windows with
        :func:`~skeeg2bold.make_windows` for the whole response.

    Attributes
    ----------
    kernels_ : ndarray of shape (n_basis, n_kernel)
        HRF basis sampled at ``sfreq_`` from lag 0, truncated to the window.
    sfreq_ : float
        Sampling rate (Hz) of the fitted series.
    n_features_in_ : int
        Number of series per window.
    n_times_ : int
        Samples per series.

    See Also
    --------
    EnvelopeFeatureExtractor : Produces the series (``layout="series"``).
    skeeg2bold.baselines.make_hrf_baseline : Envelopes, HRF and ridge.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.features import HRFConvolution
    >>> series = np.ones((3, 2, 40))  # 3 windows, 2 features, 20 s at 2 Hz
    >>> hrf = HRFConvolution(sfreq=2.0, hrf_model="spm + derivative").fit(series)
    >>> hrf.transform(series).shape
    (3, 4)
    >>> hrf.get_feature_names_out(["Cz_alpha", "Pz_alpha"]).tolist()
    ['Cz_alpha_hrf', 'Cz_alpha_hrf_derivative', 'Pz_alpha_hrf', 'Pz_alpha_hrf_derivative']
    """

    def __init__(self, sfreq=None, hrf_model="glover", time_length=32.0):
        self.sfreq = sfreq
        self.hrf_model = hrf_model
        self.time_length = time_length

    def fit(self, X, y=None):
        """Sample the HRF basis at the series' rate over the window.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_features, n_times)
            Series in time order, the last sample at the window's end; its
            ``sfreq`` attribute, if any, gives the rate.
        y : ignored

        Returns
        -------
        self : HRFConvolution
        """
        sfreq = fit_sfreq(
            self.sfreq,
            X,
            "HRFConvolution",
            "the series of EnvelopeFeatureExtractor(layout='series')",
        )
        time_length = check_positive(self.time_length, "time_length")
        check_option(self.hrf_model, _HRF_MODELS, "hrf_model")
        X = check_eeg_windows_array(X, "X")
        _, self.n_features_in_, self.n_times_ = X.shape
        n_kernel = min(self.n_times_, int(round(time_length * sfreq)))
        if n_kernel < 2:
            raise ValueError(
                f"The window holds {self.n_times_} sample(s) at {sfreq:g} Hz; the HRF "
                "needs at least 2 (use a higher sfreq or a longer window)."
            )
        self.sfreq_ = sfreq
        self.kernels_ = _hrf_basis(self.hrf_model, sfreq, time_length)[:, :n_kernel]
        return self

    def transform(self, X):
        """HRF-weighted sum of each series ending at the window's last sample.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_features, n_times)

        Returns
        -------
        features : ndarray of shape (n_windows, n_features * n_basis)
            Ordered feature-major: all bases of feature 0, then feature 1...
        """
        check_is_fitted(self, "kernels_")
        fit_sfreq(self.sfreq_, X, "HRFConvolution")  # a rate X carries must be the fitted one
        X = check_eeg_windows_array(X, "X")
        check_fitted_windows(X, self, n_channels=self.n_features_in_, n_times=self.n_times_)
        n_kernel = self.kernels_.shape[1]
        recent_first = X[:, :, : -n_kernel - 1 : -1]
        out = np.einsum("wft,bt->wfb", recent_first, self.kernels_.astype(X.dtype))
        return out.reshape(X.shape[0], -1)

    def get_feature_names_out(self, input_features=None):
        """``"<input feature>_<basis>"`` with bases ``hrf``, ``hrf_derivative``,
        ``hrf_dispersion``.

        Parameters
        ----------
        input_features : list of str, default=None
            Names of the input series (``x0, x1, ...`` if omitted).

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "kernels_")
        inputs = _check_feature_names_in(self, input_features, generate_names=True)
        bases = _BASIS_NAMES[: self.kernels_.shape[0]]
        return np.asarray([f"{f}_{b}" for f in inputs for b in bases], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _hrf_basis(hrf_model, sfreq, time_length):
    """nilearn's HRF (and derivatives) at ``sfreq``, shape (n_basis, n_samples)."""
    from nilearn.glm.first_level import (
        glover_dispersion_derivative,
        glover_hrf,
        glover_time_derivative,
        spm_dispersion_derivative,
        spm_hrf,
        spm_time_derivative,
    )

    family = {
        "spm": (spm_hrf, spm_time_derivative, spm_dispersion_derivative),
        "glover": (glover_hrf, glover_time_derivative, glover_dispersion_derivative),
    }[hrf_model.split(" ")[0]]
    n_basis = 1 + hrf_model.count("+")
    kernels = [
        func(1.0 / sfreq, oversampling=_OVERSAMPLING, time_length=time_length)
        for func in family[:n_basis]
    ]
    # Fine-grid kernels sum to one; the factor keeps that at the coarse rate.
    return np.asarray([k[::_OVERSAMPLING] * _OVERSAMPLING for k in kernels])
