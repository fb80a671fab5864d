import torch
import torch.nn as nn

batch_size = 8
in_channels = 64
out_channels = 32
kernel_size = 4
length = 2048
stride = 2
padding = 1
output_padding = 0
groups = 1
bias = True


class Model(nn.Module):
    """Transposed 1D convolution (stride 2 upsampling, with bias) over a (batch, in_channels, length) signal."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, output_padding: int = 0, groups: int = 1, bias: bool = False):
        super().__init__()
        self.conv_transpose1d = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=stride,
                                                   padding=padding, output_padding=output_padding,
                                                   groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_transpose1d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, length)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias]
