import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 4
in_channels = 8
out_channels = 16
depth = 16
height = 32
width = 32
kernel_size = 3
negative_slope = 0.1


class Model(nn.Module):
    """Conv3d, LeakyReLU, per-channel bias add, sum over the channel dimension (keepdim)."""

    def __init__(self, in_channels, out_channels, kernel_size, negative_slope):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1, 1) * 0.02)
        self.negative_slope = negative_slope

    def forward(self, x):
        x = self.conv(x)
        x = F.leaky_relu(x, self.negative_slope)
        x = x + self.bias
        return torch.sum(x, dim=1, keepdim=True)


def get_inputs():
    return [torch.randn(batch_size, in_channels, depth, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, negative_slope]
