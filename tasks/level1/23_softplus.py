import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 128
dim = 32768


class Model(nn.Module):
    """Applies Softplus element-wise: log(1 + exp(x)) (beta = 1, threshold = 20)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(x)


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return []
