import torch
import torch.nn as nn

batch_size = 8
channels = 16
height = 128
width = 128
kernel_size = 3
stride = 2
padding = 1
dilation = 1


class Model(nn.Module):
    """MaxPool2d with a 3x3 window, stride 2 and padding 1 over a (batch, channels, H, W) tensor."""

    def __init__(self, kernel_size: int, stride: int, padding: int, dilation: int):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def get_inputs():
    x = torch.randn(batch_size, channels, height, width)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding, dilation]
