import torch
import torch.nn as nn

batch_size = 16
channels = 64
length = 8192
kernel_size = 4
stride = 2
padding = 2
dilation = 3


class Model(nn.Module):
    """MaxPool1d over a (batch, channels, length) tensor with dilation and padding."""

    def __init__(self, kernel_size: int, stride: int, padding: int, dilation: int):
        super().__init__()
        self.pool = nn.MaxPool1d(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def get_inputs():
    x = torch.randn(batch_size, channels, length)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding, dilation]
