"""Decoder: MHA+Conv blocks, interpolation to the output rate, reduction to targets."""

from torch import nn
from torch.nn import functional as F

from ._blocks import MHAConvBlock

__all__ = ["Decoder"]


class Decoder(nn.Module):
    """Turn encoder embeddings into a short multichannel BOLD sequence.

    ``n_blocks`` :class:`MHAConvBlock`, then linear interpolation to
    ``n_out_times`` samples (the paper upsamples to the BOLD segment's
    length) and two convolutions reducing the channels to ``n_outputs``.

    Parameters
    ----------
    embed_dim : int, default=32
    n_outputs : int, default=15
    n_out_times : int, default=10
        Length of the output sequence.
    n_blocks : int, default=1
    n_heads : int, default=4
    kernel_size : int, default=7
    dropout : float, default=0.1

    Shape
    -----
    - Input: ``(batch, embed_dim, n_tokens)``
    - Output: ``(batch, n_outputs, n_out_times)``
    """

    def __init__(
        self,
        embed_dim=32,
        n_outputs=15,
        n_out_times=10,
        *,
        n_blocks=1,
        n_heads=4,
        kernel_size=7,
        dropout=0.1,
    ):
        super().__init__()
        self.n_out_times = int(n_out_times)
        self.blocks = nn.Sequential(
            *[
                MHAConvBlock(embed_dim, n_heads, kernel_size, dropout=dropout)
                for _ in range(n_blocks)
            ]
        )
        self.reduce = nn.Sequential(
            nn.Conv1d(embed_dim, embed_dim, kernel_size=3, padding=1),
            nn.GELU(),
            nn.Conv1d(embed_dim, n_outputs, kernel_size=1),
        )

    def forward(self, x):
        x = F.interpolate(self.blocks(x), size=self.n_out_times, mode="linear", align_corners=True)
        return self.reduce(x)
