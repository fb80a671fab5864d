import torch
import torch.nn as nn

batch_size = 2
in_channels = 16
out_channels = 32
kernel_size = 3
depth = 16
height = 32
width = 32
stride = 1
padding = 1
dilation = 1
groups = 1
bias = False


class Model(nn.Module):
    """Standard 3D convolution with a 3x3x3 kernel over a (batch, in_channels, D, H, W) volume."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = False):
        super().__init__()
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                dilation=dilation, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, depth, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias]
