import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 8
in_channels = 16
out_channels = 32
height = 48
width = 48
kernel_size = 3
pool_size = 2
clamp_min = -0.25
clamp_max = 0.5


class Model(nn.Module):
    """Conv2d, HardSwish, 2D average pooling, clamp to [clamp_min, clamp_max]."""

    def __init__(self, in_channels, out_channels, kernel_size, pool_size, clamp_min, clamp_max):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=1)
        self.pool = nn.AvgPool2d(pool_size)
        self.clamp_min = clamp_min
        self.clamp_max = clamp_max

    def forward(self, x):
        x = self.conv(x)
        x = F.hardswish(x)
        x = self.pool(x)
        return torch.clamp(x, self.clamp_min, self.clamp_max)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, pool_size, clamp_min, clamp_max]
