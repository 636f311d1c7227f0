"""Encoder: rate reduction, projection to the embedding, MHA+Conv blocks."""

import torch
from torch import nn

from .._validation import check_int
from ._blocks import MHAConvBlock

__all__ = ["Encoder"]


class Encoder(nn.Module):
    """Map a multichannel sequence to a sequence of embeddings.

    A strided convolution reduces the sampling rate by ``stride``, a 1-D
    convolution projects to ``embed_dim`` channels, a learned positional
    embedding marks where in the window each token lies (attention alone is
    blind to order), and ``n_blocks`` :class:`MHAConvBlock` follow. The paper
    uses it for the EEG features and, with another input size, for the BOLD.

    Parameters
    ----------
    n_in : int
        Input channels (feature-extractor branches, or BOLD targets).
    n_times : int
        Input length in samples.
    embed_dim : int, default=32
    stride : int, default=25
        Rate reduction of the strided convolution (kernel = stride).
    n_blocks : int, default=2
    n_heads : int, default=4
    kernel_size : int, default=7
        Depthwise kernel of the blocks, in tokens.
    dropout : float, default=0.1

    Attributes
    ----------
    n_tokens : int
        Output length, ``n_times // stride``.

    Shape
    -----
    - Input: ``(batch, n_in, n_times)``
    - Output: ``(batch, embed_dim, n_tokens)``
    """

    def __init__(
        self,
        n_in,
        n_times,
        *,
        embed_dim=32,
        stride=25,
        n_blocks=2,
        n_heads=4,
        kernel_size=7,
        dropout=0.1,
    ):
        super().__init__()
        stride = check_int(stride, "stride", min_value=1, max_value=n_times)
        self.n_tokens = n_times // stride
        self.reduce = nn.Conv1d(n_in, n_in, kernel_size=stride, stride=stride)
        self.embed = nn.Conv1d(n_in, embed_dim, kernel_size=3, padding=1)
        self.position = nn.Parameter(torch.zeros(1, embed_dim, self.n_tokens))
        nn.init.normal_(self.position, std=0.02)
        self.blocks = nn.Sequential(
            *[
                MHAConvBlock(embed_dim, n_heads, kernel_size, dropout=dropout)
                for _ in range(n_blocks)
            ]
        )

    def forward(self, x):
        return self.blocks(self.embed(self.reduce(x)) + self.position)
