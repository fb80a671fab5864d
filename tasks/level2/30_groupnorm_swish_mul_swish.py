import torch
import torch.nn as nn

batch_size = 8
channels = 64
height = 64
width = 64
num_groups = 8


class Model(nn.Module):
    """GroupNorm, Swish, multiply by a learned per-channel weight, Swish again."""

    def __init__(self, channels, num_groups):
        super().__init__()
        self.norm = nn.GroupNorm(num_groups, channels)
        self.weight = nn.Parameter(torch.randn(channels, 1, 1))

    def forward(self, x):
        x = self.norm(x)
        x = x * torch.sigmoid(x)
        x = x * self.weight
        return x * torch.sigmoid(x)


def get_inputs():
    return [torch.randn(batch_size, channels, height, width) * 3.0 + 1.0]


def get_init_inputs():
    return [channels, num_groups]
