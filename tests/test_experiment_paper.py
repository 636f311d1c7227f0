"""The paper's experiment as library functions (skeeg2bold.experiment._paper)."""

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from skeeg2bold.experiment import (
    MODEL_HELP,
    PRESETS,
    load_dataset,
    paper_chance_models,
    paper_model,
    paper_models,
    paper_protocol,
    paper_windows,
)


def test_paper_models_follow_the_preset_and_its_settings():
    models = paper_models("quick", random_state=4)
    assert list(models) == list(PRESETS["quick"]["models"])
    aligned = models["aligned-compact"]
    assert isinstance(aligned, Pipeline)
    net = aligned.steps[-1][1]
    assert net.max_epochs == PRESETS["quick"]["epochs"] and net.random_state == 4


@pytest.mark.parametrize("name", sorted(MODEL_HELP))
def test_every_model_name_builds_an_unfitted_regressor(name):
    from sklearn.base import clone, is_regressor

    model = paper_model(name, epochs=2)
    assert is_regressor(model)
    clone(model)


def test_unknown_names_are_refused_by_name():
    with pytest.raises(ValueError, match="name must be one of"):
        paper_model("lasso")
    with pytest.raises(ValueError, match="preset must be one of"):
        paper_models("slow")
    with pytest.raises(ValueError, match="protocol must be"):
        paper_protocol(["a", "b"], "loo")
    with pytest.raises(ValueError, match="source must be"):
        load_dataset("edf")
    with pytest.raises(ValueError, match="needs root"):
        load_dataset("cwl")


def test_chance_model_is_the_first_network_then_the_baselines():
    assert paper_chance_models(["logridge", "compact", "riemann"]) == ["compact"]
    assert paper_chance_models(["hrf", "logridge"]) == ["logridge"]
    assert paper_chance_models([]) == []


def test_subject_cv_leaves_out_only_the_last_subjects_in_turn():
    groups = np.repeat(["s1", "s2", "s3", "s4"], 3)
    cv = paper_protocol(groups, "subject-cv", n_targets=2)
    X = np.zeros((len(groups), 1))
    tests = [sorted(set(groups[test])) for _, test in cv.split(X, groups=groups)]
    assert tests == [["s3"], ["s4"]]
    assert cv.get_n_splits(X, groups=groups) == 2
    for train, test in cv.split(X, groups=groups):
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups)
    assert repr(cv) == "_LastSubjectsOut(subjects=['s3', 's4'])"


def test_paper_protocol_targets_the_last_subjects():
    cv = paper_protocol(np.repeat(["a", "b", "c"], 2), n_targets=5)
    assert [str(s) for s in cv.subjects] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="at least two subjects"):
        paper_protocol(["a", "a"])


def test_paper_windows_are_the_differential_rois_and_the_common_mode():
    dataset = load_dataset(n_subjects=2, duration=40.0, sfreq=100.0, random_state=1)
    assert dataset.simulation is not None and len(dataset.recordings) == 2
    assert sorted(dataset.sources) == ["unmixing oracle", "unmixing oracle (cortical)"]
    with pytest.warns(UserWarning):  # the windows before 10 s of EEG are dropped
        data = paper_windows(dataset.recordings, window=10.0, sfreq=50.0)
    from skeeg2bold import make_windows

    with pytest.warns(UserWarning):
        raw = make_windows(dataset.recordings, window=10.0, sfreq=50.0, dtype="float32")
    n_rois = raw.y.shape[1]
    assert data.y.shape == (len(raw.y), n_rois + 1)
    assert all(type(n) is str for n in data.target_names) and len(data.target_names) == n_rois + 1
    # differential ROIs: each ROI minus the mean of the ROIs; then that mean
    np.testing.assert_allclose(data.y[:, :n_rois].sum(axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(data.y, data.target_splitter.transform(raw.y))
    np.testing.assert_array_equal(data.X.times, raw.X.times)
    np.testing.assert_array_equal(data.groups, raw.groups)
