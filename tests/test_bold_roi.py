import nibabel as nib
import numpy as np
import pytest
from sklearn.base import clone

from skeeg2bold.io import (
    SUBCORTICAL_ROIS,
    BOLDRoiTargets,
    load_confounds,
    make_toy_atlas,
    t_r_from_header,
)
from skeeg2bold.io._atlas import _toy_labels_at, _voxel_centres

from _helpers import column_corr

N_VOLUMES = 60


def _image(data, affine, t_r=1.95, unit="sec"):
    img = nib.Nifti1Image(data.astype(np.float32), affine)
    img.header.set_xyzt_units("mm", unit)
    img.header.set_zooms(img.header.get_zooms()[:3] + (t_r,))
    return img


@pytest.fixture(scope="module")
def planted():
    """A BOLD image in a 4 mm grid, shifted from the toy atlas's 6 mm grid.

    Each ROI's voxels (decided from world coordinates, not from the atlas
    image) carry that ROI's signal plus a shared confound; white-matter
    voxels carry a physiological signal that also leaks into the ROIs.
    """
    rng = np.random.default_rng(0)
    shape = (20, 26, 16)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-39.0, -51.0, -31.0]
    centres = _voxel_centres(shape, affine)
    labels = _toy_labels_at(centres)
    roi = rng.standard_normal((N_VOLUMES, 14))
    confound = rng.standard_normal(N_VOLUMES)
    physio = rng.standard_normal(N_VOLUMES)
    data = 100.0 + 0.5 * rng.standard_normal(shape + (N_VOLUMES,))
    for k in range(14):
        data[labels == k + 1] += roi[:, k]
    data[labels > 0] += 3.0 * confound
    white_matter = (labels == 0) & (centres[..., 2] > 24)
    data[white_matter | (labels > 0)] += 3.0 * physio
    return dict(img=_image(data, affine), roi=roi, confound=confound, physio=physio)


def test_recovers_planted_roi_means_across_grids_and_removes_a_confound(planted):
    atlas = make_toy_atlas()
    targets = BOLDRoiTargets(atlas=atlas)
    conf = np.column_stack([planted["confound"], planted["physio"]])
    y = targets.fit_transform(planted["img"], confounds=conf)
    assert y.shape == (N_VOLUMES, 14)
    assert np.all(column_corr(y, planted["roi"]) > 0.95)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(y.std(0, ddof=1), 1, rtol=1e-6)
    # Without the regressors, the shared signals swamp the ROIs' own.
    raw = BOLDRoiTargets(atlas=atlas).fit_transform(planted["img"])
    assert np.mean(column_corr(raw, planted["roi"])) < 0.7
    # Both resampling directions see the same ROIs.
    labels_grid = BOLDRoiTargets(atlas=atlas, resampling_target="labels")
    y_labels = labels_grid.fit_transform(planted["img"], confounds=conf)
    assert np.all(column_corr(y_labels, planted["roi"]) > 0.9)


def test_white_matter_signal_regression(planted):
    atlas = make_toy_atlas()
    with_wm = BOLDRoiTargets(atlas=atlas, confound_signals=("white_matter",))
    y = with_wm.fit_transform(planted["img"], confounds=planted["confound"])
    without = BOLDRoiTargets(atlas=atlas).fit_transform(
        planted["img"], confounds=planted["confound"]
    )
    assert np.mean(column_corr(y, planted["roi"])) > 0.95
    assert np.mean(column_corr(without, planted["roi"])) < 0.5
    # The global signal is computed from an EPI mask of the image itself.
    glob = BOLDRoiTargets(atlas=atlas, confound_signals="global")
    assert glob.fit_transform(planted["img"]).shape == (N_VOLUMES, 14)


def test_rois_order_names_and_list_input(planted):
    rois = ["Right Caudate", "Left Thalamus"]
    targets = BOLDRoiTargets(atlas=make_toy_atlas(), rois=rois, t_r=2.0)
    ys = targets.fit_transform([planted["img"], planted["img"]])
    assert isinstance(ys, list) and len(ys) == 2 and ys[0].shape == (N_VOLUMES, 2)
    assert list(targets.get_feature_names_out()) == rois
    full = BOLDRoiTargets(atlas=make_toy_atlas(), t_r=2.0).fit_transform(planted["img"])
    right_caudate = full[:, SUBCORTICAL_ROIS.index("Right Caudate")]
    np.testing.assert_allclose(ys[0][:, 0], right_caudate, atol=1e-5)


def test_user_labels_image_and_names(planted):
    toy = make_toy_atlas()
    names = ["Background", *toy.labels]
    targets = BOLDRoiTargets(atlas=toy.maps, atlas_labels=names, t_r=2.0)
    y = targets.fit_transform(planted["img"], confounds=planted["confound"])
    expected = BOLDRoiTargets(atlas=toy, t_r=2.0).fit_transform(
        planted["img"], confounds=planted["confound"]
    )
    np.testing.assert_allclose(y, expected, atol=1e-5)
    with pytest.raises(ValueError, match="atlas_labels is required"):
        BOLDRoiTargets(atlas=toy.maps).fit()
    with pytest.raises(ValueError, match=r"no label for \['Left Amygdala'\]"):
        BOLDRoiTargets(atlas=toy.maps, atlas_labels=names[:6], rois=toy.labels[3:6]).fit()
    with pytest.raises(ValueError, match="has no white_matter label"):
        BOLDRoiTargets(atlas=toy.maps, atlas_labels=names, confound_signals=["white_matter"]).fit()


def test_t_r_from_header_or_argument_never_a_default(planted):
    data = np.asarray(planted["img"].dataobj)
    affine = planted["img"].affine
    assert t_r_from_header(_image(data, affine, t_r=1950.0, unit="msec")) == pytest.approx(1.95)
    no_unit = _image(data, affine, t_r=1.0, unit="unknown")
    with pytest.raises(ValueError, match="pass t_r="):
        BOLDRoiTargets(atlas=make_toy_atlas()).fit_transform(no_unit)
    # The TR matters once a temporal filter is asked for.
    a = BOLDRoiTargets(atlas=make_toy_atlas(), high_pass=0.05).fit_transform(planted["img"])
    b = BOLDRoiTargets(atlas=make_toy_atlas(), high_pass=0.05, t_r=1.0).fit_transform(no_unit)
    assert not np.allclose(a, b)
    c = BOLDRoiTargets(atlas=make_toy_atlas(), high_pass=0.05, t_r=1.95).fit_transform(no_unit)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_bad_inputs_get_clear_errors(planted, tmp_path):
    targets = BOLDRoiTargets(atlas=make_toy_atlas(), t_r=2.0).fit()
    three_d = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4))
    with pytest.raises(ValueError, match=r"must be a 4-D image .* got shape \(4, 4, 4\)"):
        targets.transform(three_d)
    with pytest.raises(FileNotFoundError, match="missing_bold.nii"):
        targets.transform(tmp_path / "missing_bold.nii")
    with pytest.raises(ValueError, match=r"one row per volume \(60\)"):
        targets.transform(planted["img"], confounds=np.zeros((59, 6)))
    with pytest.raises(ValueError, match="resampling_target must be one of"):
        BOLDRoiTargets(atlas=make_toy_atlas(), resampling_target="atlas").fit()
    with pytest.raises(ValueError, match="confound_signals must be one of"):
        BOLDRoiTargets(atlas=make_toy_atlas(), confound_signals=["motion"]).fit()
    # A grid too coarse for the ROIs is an error naming them, not a dropped column.
    coarse = nib.Nifti1Image(np.ones((3, 3, 3, 10), np.float32), np.diag([40.0] * 3 + [1]))
    with pytest.raises(ValueError, match="have no voxel in the data grid"):
        targets.transform(coarse)


def test_confounds_from_a_motion_parameter_file(planted, tmp_path):
    rp = np.column_stack([planted["confound"], np.zeros((N_VOLUMES, 5))])
    path = tmp_path / "rp_asub.txt"
    np.savetxt(path, rp, fmt="%15.7e")
    np.testing.assert_allclose(load_confounds(path, N_VOLUMES), rp, atol=1e-6)
    targets = BOLDRoiTargets(atlas=make_toy_atlas())
    from_file = targets.fit_transform(planted["img"], confounds=path)
    from_array = targets.transform(planted["img"], confounds=rp)
    np.testing.assert_allclose(from_file, from_array, atol=1e-5)


def test_sklearn_api():
    targets = BOLDRoiTargets(atlas=make_toy_atlas(), t_r=2.0, high_pass=0.01)
    params = targets.get_params()
    assert params["t_r"] == 2.0 and params["rois"] == SUBCORTICAL_ROIS
    twin = clone(targets)
    assert twin.get_params()["high_pass"] == 0.01 and not hasattr(twin, "masker_")
    assert targets.__sklearn_tags__().input_tags.two_d_array is False
    with pytest.raises(Exception, match="not fitted"):
        targets.get_feature_names_out()
