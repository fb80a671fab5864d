import torch
import torch.nn as nn

batch_size = 512
length = 4096
scan_dim = 1


class Model(nn.Module):
    """Inclusive prefix product along dim 1 of a (batch, length) tensor with entries close to 1."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumprod(x, dim=self.dim)


def get_inputs():
    # entries in [0.98, 1.02] keep the running product finite and well conditioned
    x = torch.rand(batch_size, length) * 0.04 + 0.98
    return [x]


def get_init_inputs():
    return [scan_dim]
