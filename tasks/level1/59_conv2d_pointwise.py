import torch
import torch.nn as nn

batch_size = 8
in_channels = 64
out_channels = 128
height = 64
width = 64
bias = True


class Model(nn.Module):
    """Pointwise (1x1) 2D convolution with bias: a per-pixel linear map from in_channels to out_channels."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False):
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(x)


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, bias]
