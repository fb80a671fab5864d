import torch
import torch.nn as nn

batch_size = 8
in_channels = 64
out_channels = 128
kernel_size = 5
length = 2048
stride = 1
padding = 2
dilation = 1
groups = 1
bias = True


class Model(nn.Module):
    """Standard 1D convolution (with bias) over a (batch, in_channels, length) signal."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = False):
        super().__init__()
        self.conv1d = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                dilation=dilation, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, length)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias]
