"""The correlation + CLIP loss against hand computations, and what CLIP does."""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from skeeg2bold.nn import CorrelationCLIPLoss, clip_loss, negative_pearson


def _np_clip(e, b, temperature):
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = e @ b.T / temperature
    diag = np.diag(logits)
    rows = np.mean(logsumexp(logits, axis=1) - diag)
    cols = np.mean(logsumexp(logits, axis=0) - diag)
    return 0.5 * (rows + cols)


def test_negative_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    pred, true = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    true[:, 1] = 3 * pred[:, 1] + 2  # r = 1 for this target
    expected = -np.mean([np.corrcoef(pred[:, k], true[:, k])[0, 1] for k in range(3)])
    got = negative_pearson(torch.tensor(pred), torch.tensor(true))
    assert got.item() == pytest.approx(expected, abs=1e-7)


def test_negative_pearson_constant_column_is_zero_not_nan():
    pred = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, 5.0]])
    true = torch.tensor([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    assert negative_pearson(pred, true).item() == pytest.approx(-0.5, abs=1e-6)


def test_clip_loss_matches_numpy():
    rng = np.random.default_rng(1)
    e, b = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    got = clip_loss(torch.tensor(e), torch.tensor(b), temperature=0.3).item()
    assert got == pytest.approx(_np_clip(e, b, 0.3), rel=1e-6)
    # Perfectly matched, well separated pairs give a loss near zero.
    eye = torch.eye(4)
    assert clip_loss(eye, eye, temperature=0.01).item() < 1e-6


def test_weighted_sum_and_prediction_only_path():
    rng = np.random.default_rng(2)
    pred = torch.tensor(rng.standard_normal((8, 2)))
    true = torch.tensor(rng.standard_normal((8, 2)))
    e, b = torch.tensor(rng.standard_normal((8, 5))), torch.tensor(rng.standard_normal((8, 5)))
    loss = CorrelationCLIPLoss(corr_weight=0.7, clip_weight=0.2, temperature=0.5)
    expected = 0.7 * negative_pearson(pred, true) + 0.2 * _np_clip(e.numpy(), b.numpy(), 0.5)
    assert loss((pred, e, b), true).item() == pytest.approx(expected.item(), rel=1e-6)
    # Without embeddings (validation, prediction) only the correlation term counts.
    assert loss(pred, true).item() == pytest.approx(0.7 * negative_pearson(pred, true).item())
    # A 1-D target is reshaped to the prediction's shape.
    assert loss(pred[:, :1], true[:, 0]).item() == pytest.approx(
        0.7 * negative_pearson(pred[:, :1], true[:, :1]).item()
    )


@pytest.mark.parametrize(
    "kwargs", [dict(corr_weight=-1.0), dict(temperature=0.0), dict(clip_weight=float("nan"))]
)
def test_bad_loss_parameters(kwargs):
    with pytest.raises(ValueError):
        CorrelationCLIPLoss(**kwargs)


def test_clip_pulls_matching_pairs_together():
    """Two linear encoders of related views learn to align matching pairs."""
    torch.manual_seed(0)
    latent = torch.randn(256, 4)
    eeg = latent @ torch.randn(4, 10) + 0.1 * torch.randn(256, 10)
    bold = latent @ torch.randn(4, 6) + 0.1 * torch.randn(256, 6)
    enc_eeg, enc_bold = torch.nn.Linear(10, 8), torch.nn.Linear(6, 8)
    params = list(enc_eeg.parameters()) + list(enc_bold.parameters())
    opt = torch.optim.Adam(params, lr=0.05)

    def matching(e, b):
        e, b = torch.nn.functional.normalize(e, dim=1), torch.nn.functional.normalize(b, dim=1)
        sim = e @ b.T
        return sim.diag().mean().item(), (sim.argmax(1) == torch.arange(len(e))).float().mean()

    with torch.no_grad():
        cos_before, acc_before = matching(enc_eeg(eeg), enc_bold(bold))
    for _ in range(150):
        idx = torch.randint(0, 256, (64,))
        opt.zero_grad()
        clip_loss(enc_eeg(eeg[idx]), enc_bold(bold[idx]), temperature=0.1).backward()
        opt.step()
    with torch.no_grad():
        cos_after, acc_after = matching(enc_eeg(eeg), enc_bold(bold))
    assert cos_after > 0.8 > cos_before
    assert acc_after > 0.5 > acc_before
