import torch
import torch.nn as nn

batch_size = 4
in_channels = 64
out_channels = 32
kernel_size = 4
height = 32
width = 32
stride = 2
padding = 1
output_padding = 0
groups = 1
bias = False


class Model(nn.Module):
    """Transposed 2D convolution with a 4x4 kernel and stride 2 (2x spatial upsampling)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, output_padding: int = 0, groups: int = 1, bias: bool = False):
        super().__init__()
        self.conv_transpose2d = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride,
                                                   padding=padding, output_padding=output_padding,
                                                   groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_transpose2d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias]
