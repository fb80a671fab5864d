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
scale = 4.0


class Model(nn.Module):
    """Conv2d, softmax over the channel dimension, 2D max pooling, multiply by a constant."""

    def __init__(self, in_channels, out_channels, kernel_size, pool_size, scale):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=1)
        self.pool_size = pool_size
        self.scale = scale

    def forward(self, x):
        x = self.conv(x)
        x = torch.softmax(x, dim=1)
        x = F.max_pool2d(x, self.pool_size)
        return x * self.scale


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, pool_size, scale]
