import torch
import torch.nn as nn

batch_size = 8
in_channels = 32
out_channels = 16
height = 32
width = 32
kernel_size = 4
stride = 2
padding = 1
scale = 2.0


class Model(nn.Module):
    """ConvTranspose2d (2x upsampling), per-channel bias add, Tanh, multiply by a constant."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, scale):
        super().__init__()
        self.conv_t = nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
                                         stride=stride, padding=padding)
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1) * 0.02)
        self.scale = scale

    def forward(self, x):
        x = self.conv_t(x)
        x = x + self.bias
        x = torch.tanh(x)
        return x * self.scale


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, scale]
