import torch
import torch.nn as nn

batch_size = 128
dim1 = 256
dim2 = 384
reduce_dim = 1


class Model(nn.Module):
    """Sums a (batch, dim1, dim2) tensor over one dimension, keeping it as size 1."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=self.dim, keepdim=True)


def get_inputs():
    x = torch.randn(batch_size, dim1, dim2)
    return [x]


def get_init_inputs():
    return [reduce_dim]
