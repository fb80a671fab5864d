import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 128
dim = 32768


class Model(nn.Module):
    """Applies the exact (erf-based) GELU element-wise: x * 0.5 * (1 + erf(x / sqrt(2)))."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return []
