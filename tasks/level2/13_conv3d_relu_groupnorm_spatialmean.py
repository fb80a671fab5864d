import torch
import torch.nn as nn

batch_size = 2
in_channels = 8
out_channels = 16
depth = 16
height = 32
width = 32
kernel_size = 3
num_groups = 4


class Model(nn.Module):
    """Conv3d, ReLU, GroupNorm, mean over the spatial dims (D, H, W) giving (batch, channels)."""

    def __init__(self, in_channels, out_channels, kernel_size, num_groups):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size)
        self.norm = nn.GroupNorm(num_groups, out_channels)

    def forward(self, x):
        x = self.conv(x)
        x = torch.relu(x)
        x = self.norm(x)
        return x.mean(dim=(2, 3, 4))


def get_inputs():
    return [torch.randn(batch_size, in_channels, depth, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, num_groups]
