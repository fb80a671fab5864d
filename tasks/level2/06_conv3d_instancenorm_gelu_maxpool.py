import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 2
in_channels = 8
out_channels = 16
depth = 16
height = 32
width = 32
kernel_size = 3
pool_size = 2


class Model(nn.Module):
    """Conv3d, InstanceNorm3d (no affine), GELU, 3D max pooling."""

    def __init__(self, in_channels, out_channels, kernel_size, pool_size):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size, padding=1)
        self.norm = nn.InstanceNorm3d(out_channels)
        self.pool = nn.MaxPool3d(pool_size)

    def forward(self, x):
        x = self.conv(x)
        x = self.norm(x)
        x = F.gelu(x)
        return self.pool(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, depth, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, pool_size]
