import torch
import torch.nn as nn

batch_size = 8
in_channels = 16
out_channels = 32
height = 48
width = 48
kernel_size = 3
scale = 1.5


class Model(nn.Module):
    """Conv2d, BatchNorm2d (batch statistics), multiply by a constant, Sigmoid."""

    def __init__(self, in_channels, out_channels, kernel_size, scale):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.scale = scale

    def forward(self, x):
        x = self.conv(x)
        x = self.bn(x)
        x = x * self.scale
        return torch.sigmoid(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, scale]
