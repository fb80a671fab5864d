import torch
import torch.nn as nn

batch_size = 32
seq_len = 256
hidden = 512


class Model(nn.Module):
    """LayerNorm over the last dimension of a (batch, seq_len, hidden) tensor, with affine weight and bias."""

    def __init__(self, hidden: int):
        super().__init__()
        self.ln = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x)


def get_inputs():
    x = torch.randn(batch_size, seq_len, hidden)
    return [x]


def get_init_inputs():
    return [hidden]
