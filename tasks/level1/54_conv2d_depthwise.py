import torch
import torch.nn as nn

batch_size = 4
in_channels = 64
kernel_size = 3
height = 128
width = 128
stride = 1
padding = 1
bias = False


class Model(nn.Module):
    """Depthwise 2D convolution: one 3x3 filter per channel (groups = in_channels = out_channels)."""

    def __init__(self, in_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = False):
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding,
                                groups=in_channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, kernel_size, stride, padding, bias]
