import torch
import torch.nn as nn

batch_size = 8
channels = 32
height = 128
width = 128
kernel_size = 4
stride = 2
padding = 1


class Model(nn.Module):
    """AvgPool2d with a 4x4 window, stride 2, padding 1 (padding counted in the average)."""

    def __init__(self, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def get_inputs():
    x = torch.randn(batch_size, channels, height, width)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding]
