"""CommonModeSplitter: differential ROIs + common mode, exactly invertible."""

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge

from skeeg2bold.targets import CommonModeSplitter

ROIS = ["Left Thalamus", "Right Thalamus", "Left Caudate", "Right Caudate"]


def _bold(n=200, seed=0):
    """ROIs sharing a common fluctuation with different loadings, plus offsets."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(n)
    return (
        np.outer(common, [1.5, 1.0, 0.5, 0.8])
        + 0.5 * rng.standard_normal((n, 4))
        + [100.0, 200.0, 50.0, 0.0]
    )


def test_mean_split_is_the_papers_targets():
    y = _bold()
    split = CommonModeSplitter().fit_transform(y)
    common = y.mean(axis=1)
    assert split.shape == (200, 5)
    assert_allclose(split[:, -1], common)
    assert_allclose(split[:, :-1], y - common[:, None])
    assert_allclose(split[:, :-1].sum(axis=1), 0, atol=1e-9)  # differentials sum to zero


@pytest.mark.parametrize("method", ["mean", "projection"])
def test_inverse_is_exact(method):
    y = _bold()
    splitter = CommonModeSplitter(method=method).fit(y)
    assert_allclose(splitter.inverse_transform(splitter.transform(y)), y, rtol=0, atol=1e-12 * 200)
    other = _bold(seed=1)  # exact on unseen rows too
    assert_allclose(
        splitter.inverse_transform(splitter.transform(other)), other, rtol=0, atol=1e-12 * 200
    )


def test_projection_removes_the_common_mode():
    y = _bold()
    splitter = CommonModeSplitter(method="projection").fit(y)
    split = splitter.transform(y)
    common = split[:, -1]
    for k in range(4):
        assert abs(np.corrcoef(split[:, k], common)[0, 1]) < 1e-10
    # plain differences keep a correlation for ROIs loading unlike the mean
    mean_split = CommonModeSplitter().fit_transform(y)
    assert abs(np.corrcoef(mean_split[:, 0], common)[0, 1]) > 0.3
    assert splitter.loadings_[0] > splitter.loadings_[2]
    assert_allclose(splitter.loadings_.mean(), 1.0)  # slopes of the mean average to one


def test_mean_is_stateless():
    y = _bold()
    split = CommonModeSplitter().transform(y[:7])  # no fit needed
    assert_allclose(split, CommonModeSplitter().fit(y).transform(y[:7]))
    assert_allclose(CommonModeSplitter().inverse_transform(split), y[:7])
    with pytest.raises(Exception, match="not fitted"):
        CommonModeSplitter(method="projection").transform(y)


def test_feature_names():
    frame = pd.DataFrame(_bold(), columns=ROIS)
    splitter = CommonModeSplitter().fit(frame)
    assert splitter.get_feature_names_out().tolist() == ROIS + ["common_mode"]
    assert CommonModeSplitter().fit(_bold()).get_feature_names_out().tolist() == [
        "x0",
        "x1",
        "x2",
        "x3",
        "common_mode",
    ]
    out = CommonModeSplitter().set_output(transform="pandas").fit_transform(frame)
    assert list(out.columns) == ROIS + ["common_mode"]
    with pytest.raises(ValueError, match="already named 'common_mode'"):
        CommonModeSplitter().fit(
            frame.rename(columns={ROIS[0]: "common_mode"})
        ).get_feature_names_out()


@pytest.mark.parametrize("method", ["mean", "projection"])
def test_inside_transformed_target_regressor(method):
    """The regressor learns the k + 1 split targets and predicts the k ROIs."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    y = X[:, :4] @ rng.standard_normal((4, 4)) + _bold()
    model = TransformedTargetRegressor(Ridge(alpha=1.0), transformer=CommonModeSplitter(method))
    pred = model.fit(X, y).predict(X)
    assert pred.shape == y.shape
    assert model.regressor_.coef_.shape == (5, 6)  # 4 differentials + common mode
    splitter = CommonModeSplitter(method).fit(y)
    manual = splitter.inverse_transform(Ridge(alpha=1.0).fit(X, splitter.transform(y)).predict(X))
    assert_allclose(pred, manual)
    # Ridge is linear in y, so splitting the targets changes nothing for it
    assert_allclose(pred, Ridge(alpha=1.0).fit(X, y).predict(X), rtol=1e-9)
    restored = pickle.loads(pickle.dumps(model))
    assert_allclose(restored.predict(X), pred)


def test_bad_input():
    with pytest.raises(ValueError, match="method must be one of"):
        CommonModeSplitter(method="median").fit(_bold())
    with pytest.raises(ValueError, match="constant"):
        CommonModeSplitter(method="projection").fit(np.ones((10, 3)))
    splitter = CommonModeSplitter().fit(_bold())
    with pytest.raises(ValueError, match="5 columns"):
        splitter.inverse_transform(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="4 features"):
        splitter.transform(np.zeros((3, 3)))
