import torch
import torch.nn as nn

batch_size = 32
dim1 = 128
dim2 = 1024
reduce_dim = 2


class Model(nn.Module):
    """Minimum of a (batch, dim1, dim2) tensor over one dimension (values only, dimension removed)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.min(x, dim=self.dim)[0]


def get_inputs():
    x = torch.randn(batch_size, dim1, dim2)
    return [x]


def get_init_inputs():
    return [reduce_dim]
