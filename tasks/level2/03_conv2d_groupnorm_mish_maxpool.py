import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 8
in_channels = 16
out_channels = 32
height = 48
width = 48
kernel_size = 3
num_groups = 8
pool_size = 2


class Model(nn.Module):
    """Conv2d, GroupNorm, Mish activation, 2D max pooling."""

    def __init__(self, in_channels, out_channels, kernel_size, num_groups, pool_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.norm = nn.GroupNorm(num_groups, out_channels)
        self.pool = nn.MaxPool2d(pool_size)

    def forward(self, x):
        x = self.conv(x)
        x = self.norm(x)
        x = F.mish(x)
        return self.pool(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, num_groups, pool_size]
