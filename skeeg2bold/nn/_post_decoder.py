"""Post-decoder: two pointwise convolutions with LayerNorm and GELU between."""

from torch import nn

__all__ = ["PostDecoder"]


class PostDecoder(nn.Module):
    """Per-sample mixing of the decoded targets (the paper's Post Decoder Block).

    Parameters
    ----------
    n_outputs : int, default=15
    hidden : int, default=32
        Channels between the two pointwise convolutions.

    Shape
    -----
    - Input: ``(batch, n_outputs, n_out_times)``
    - Output: ``(batch, n_outputs, n_out_times)``
    """

    def __init__(self, n_outputs=15, hidden=32):
        super().__init__()
        self.expand = nn.Conv1d(n_outputs, hidden, kernel_size=1)
        self.norm = nn.LayerNorm(hidden)
        self.act = nn.GELU()
        self.project = nn.Conv1d(hidden, n_outputs, kernel_size=1)

    def hidden(self, x):
        """Activations before the last pointwise layer, ``(batch, hidden, n_out_times)``."""
        return self.act(self.norm(self.expand(x).transpose(1, 2)).transpose(1, 2))

    def forward(self, x):
        return self.project(self.hidden(x))
