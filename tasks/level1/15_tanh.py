import torch
import torch.nn as nn

batch_size = 128
dim = 32768


class Model(nn.Module):
    """Applies tanh element-wise."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return []
