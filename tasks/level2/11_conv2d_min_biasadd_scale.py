import torch
import torch.nn as nn

batch_size = 8
in_channels = 16
out_channels = 32
height = 64
width = 64
kernel_size = 3
min_value = 0.3
scale = 2.0


class Model(nn.Module):
    """Conv2d, elementwise minimum with a constant, per-channel bias add, multiply by a constant."""

    def __init__(self, in_channels, out_channels, kernel_size, min_value, scale):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1) * 0.02)
        self.min_value = min_value
        self.scale = scale

    def forward(self, x):
        x = self.conv(x)
        x = torch.clamp(x, max=self.min_value)  # min(x, min_value)
        x = x + self.bias
        return x * self.scale


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, min_value, scale]
