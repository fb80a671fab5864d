import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16
dim = 65536
scale = 1.5
clamp_min = -0.5
clamp_max = 1.0


class Model(nn.Module):
    """Elementwise chain: GELU, Tanh, multiply by a constant, clamp, residual add of the input."""

    def __init__(self, scale, clamp_min, clamp_max):
        super().__init__()
        self.scale = scale
        self.clamp_min = clamp_min
        self.clamp_max = clamp_max

    def forward(self, x):
        y = F.gelu(x)
        y = torch.tanh(y)
        y = y * self.scale
        y = torch.clamp(y, self.clamp_min, self.clamp_max)
        return y + x


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return [scale, clamp_min, clamp_max]
