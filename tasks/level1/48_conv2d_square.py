import torch
import torch.nn as nn

batch_size = 4
in_channels = 32
out_channels = 64
kernel_size = 3
height = 64
width = 64
stride = 1
padding = 1
dilation = 1
groups = 1
bias = False


class Model(nn.Module):
    """Standard 2D convolution with a square 3x3 kernel on a square input ("same" padding, no bias)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = False):
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                dilation=dilation, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias]
