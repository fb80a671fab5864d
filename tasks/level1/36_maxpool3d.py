import torch
import torch.nn as nn

batch_size = 2
channels = 8
depth = 32
height = 64
width = 64
kernel_size = 3
stride = 2
padding = 1
dilation = 2


class Model(nn.Module):
    """MaxPool3d with a dilated 3x3x3 window over a (batch, channels, D, H, W) tensor."""

    def __init__(self, kernel_size: int, stride: int, padding: int, dilation: int):
        super().__init__()
        self.pool = nn.MaxPool3d(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def get_inputs():
    x = torch.randn(batch_size, channels, depth, height, width)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding, dilation]
