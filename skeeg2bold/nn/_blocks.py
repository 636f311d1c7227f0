"""The MHA+Conv block shared by the encoders and the decoder."""

from torch import nn

from .._validation import check_int

__all__ = ["MHAConvBlock"]


class MHAConvBlock(nn.Module):
    """Conformer-like block: self-attention, then convolution, then feed-forward.

    Each sub-layer is pre-normalised (LayerNorm) and residual, as in the
    Conformer (Gulati et al. 2020): attention relates distant parts of the
    window, the depthwise convolution models local temporal structure.

    Parameters
    ----------
    embed_dim : int, default=32
        Channels (embedding size); divisible by ``n_heads``.
    n_heads : int, default=4
        Attention heads.
    kernel_size : int, default=7
        Depthwise convolution length in tokens (odd).
    ff_mult : int, default=2
        Hidden size of the feed-forward layer as a multiple of ``embed_dim``.
    dropout : float, default=0.1

    Shape
    -----
    - Input: ``(batch, embed_dim, n_tokens)``
    - Output: ``(batch, embed_dim, n_tokens)``
    """

    def __init__(self, embed_dim=32, n_heads=4, kernel_size=7, ff_mult=2, dropout=0.1):
        super().__init__()
        if embed_dim % n_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by n_heads={n_heads}.")
        if check_int(kernel_size, "kernel_size", min_value=1) % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same-length output), got {kernel_size}.")
        self.norm_attn = nn.LayerNorm(embed_dim)
        self.attn = nn.MultiheadAttention(embed_dim, n_heads, dropout=dropout, batch_first=True)
        self.norm_conv = nn.LayerNorm(embed_dim)
        self.conv = nn.Sequential(
            nn.Conv1d(embed_dim, 2 * embed_dim, 1),
            nn.GLU(dim=1),
            nn.Conv1d(
                embed_dim, embed_dim, kernel_size, padding=kernel_size // 2, groups=embed_dim
            ),
            nn.SiLU(),
            nn.Conv1d(embed_dim, embed_dim, 1),
            nn.Dropout(dropout),
        )
        self.norm_ff = nn.LayerNorm(embed_dim)
        self.ff = nn.Sequential(
            nn.Linear(embed_dim, ff_mult * embed_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(ff_mult * embed_dim, embed_dim),
            nn.Dropout(dropout),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = x.transpose(1, 2)  # (batch, tokens, channels) for attention and norms
        h = self.norm_attn(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        h = self.norm_conv(x).transpose(1, 2)
        x = x + self.conv(h).transpose(1, 2)
        x = x + self.ff(self.norm_ff(x))
        return x.transpose(1, 2)
