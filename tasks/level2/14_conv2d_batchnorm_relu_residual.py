import torch
import torch.nn as nn

batch_size = 8
in_channels = 16
out_channels = 32
height = 48
width = 48
kernel_size = 3


class Model(nn.Module):
    """y = Conv2d(x); returns ReLU(BatchNorm2d(y)) + y (residual add of the conv output)."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        y = self.conv(x)
        z = torch.relu(self.bn(y))
        return z + y


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
