import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 128
dim = 32768
alpha = 0.8


class Model(nn.Module):
    """Applies ELU element-wise: x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x, alpha=self.alpha)


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return [alpha]
