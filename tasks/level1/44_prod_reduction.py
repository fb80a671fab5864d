import torch
import torch.nn as nn

batch_size = 256
dim1 = 4096
dim2 = 8
reduce_dim = 2


class Model(nn.Module):
    """Product of a (batch, dim1, dim2) tensor over its small last dimension (size 8)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.prod(x, dim=self.dim)


def get_inputs():
    x = torch.randn(batch_size, dim1, dim2)
    return [x]


def get_init_inputs():
    return [reduce_dim]
