"""The paper's training loss: negative Pearson correlation + CLIP."""

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_positive

__all__ = ["CorrelationCLIPLoss", "clip_loss", "negative_pearson"]


def negative_pearson(y_pred, y_true, eps=1e-8):
    """Minus the Pearson r over the batch, per target, averaged over targets.

    Parameters
    ----------
    y_pred, y_true : Tensor of shape (batch, n_targets)
    eps : float, default=1e-8
        Added to the norms so that a constant column gives r = 0, not NaN.

    Returns
    -------
    loss : Tensor, scalar
    """
    pred = y_pred - y_pred.mean(0, keepdim=True)
    true = y_true - y_true.mean(0, keepdim=True)
    r = (pred * true).sum(0) / (pred.norm(dim=0) * true.norm(dim=0) + eps)
    return -r.mean()


def clip_loss(eeg_embedding, bold_embedding, temperature=0.1):
    """Symmetric InfoNCE (CLIP, Radford et al. 2021) between paired embeddings.

    Row ``i`` of both inputs is a matching pair; every other row of the batch
    is a negative. Embeddings are L2-normalised, logits are cosine
    similarities divided by ``temperature``, and the loss is the mean of the
    cross-entropies EEG -> BOLD and BOLD -> EEG.

    Parameters
    ----------
    eeg_embedding, bold_embedding : Tensor of shape (batch, embed_dim)
    temperature : float, default=0.1

    Returns
    -------
    loss : Tensor, scalar
    """
    eeg = F.normalize(eeg_embedding, dim=1)
    bold = F.normalize(bold_embedding, dim=1)
    logits = eeg @ bold.T / temperature
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


class CorrelationCLIPLoss(nn.Module):
    """``corr_weight * (-mean Pearson r) + clip_weight * CLIP``.

    Called by skorch as ``criterion(y_pred, y_true)``: ``y_pred`` is the
    network's prediction, or in training the tuple ``(prediction,
    eeg_embedding, bold_embedding)`` from :class:`EEG2BoldNet`, in which case
    the CLIP term is added. On validation and test batches only the
    correlation term is computed (no BOLD embedding exists there), so the
    validation loss that early stopping watches is ``-corr_weight * r``.

    Parameters
    ----------
    corr_weight : float, default=1.0
    clip_weight : float, default=0.1
    temperature : float, default=0.1
        CLIP softmax temperature.

    Examples
    --------
    >>> import torch
    >>> from skeeg2bold.nn import CorrelationCLIPLoss
    >>> y = torch.tensor([[0.0], [1.0], [2.0]])
    >>> round(float(CorrelationCLIPLoss()(2 * y + 1, y)), 6)
    -1.0
    """

    def __init__(self, corr_weight=1.0, clip_weight=0.1, temperature=0.1):
        super().__init__()
        self.corr_weight = check_positive(corr_weight, "corr_weight", allow_zero=True)
        self.clip_weight = check_positive(clip_weight, "clip_weight", allow_zero=True)
        self.temperature = check_positive(temperature, "temperature")

    def forward(self, y_pred, y_true):
        if isinstance(y_pred, (tuple, list)):
            prediction, eeg_embedding, bold_embedding = y_pred
        else:
            prediction, eeg_embedding, bold_embedding = y_pred, None, None
        loss = self.corr_weight * negative_pearson(prediction, y_true.reshape(prediction.shape))
        if eeg_embedding is not None and self.clip_weight > 0:
            loss = loss + self.clip_weight * clip_loss(
                eeg_embedding, bold_embedding, self.temperature
            )
        return loss
