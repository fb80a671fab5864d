import torch
import torch.nn as nn

batch_size = 32
dim1 = 128
dim2 = 1024
reduce_dim = 2


class Model(nn.Module):
    """Index (int64) of the minimum of a (batch, dim1, dim2) tensor along one dimension."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmin(x, dim=self.dim)


def get_inputs():
    x = torch.randn(batch_size, dim1, dim2)
    return [x]


def get_init_inputs():
    return [reduce_dim]
