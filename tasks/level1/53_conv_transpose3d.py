import torch
import torch.nn as nn

batch_size = 2
in_channels = 32
out_channels = 16
kernel_size = 3
depth = 8
height = 16
width = 16
stride = 2
padding = 1
output_padding = 1
groups = 1
bias = True


class Model(nn.Module):
    """Transposed 3D convolution (3x3x3 kernel, stride 2, output_padding 1, with bias) doubling D, H and W."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, output_padding: int = 0, groups: int = 1, bias: bool = False):
        super().__init__()
        self.conv_transpose3d = nn.ConvTranspose3d(in_channels, out_channels, kernel_size, stride=stride,
                                                   padding=padding, output_padding=output_padding,
                                                   groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_transpose3d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, depth, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias]
