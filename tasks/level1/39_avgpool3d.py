import torch
import torch.nn as nn

batch_size = 4
channels = 16
depth = 32
height = 64
width = 64
kernel_size = 3
stride = 2
padding = 1


class Model(nn.Module):
    """AvgPool3d with a 3x3x3 window, stride 2, padding 1 (padding counted in the average)."""

    def __init__(self, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.pool = nn.AvgPool3d(kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def get_inputs():
    x = torch.randn(batch_size, channels, depth, height, width)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding]
