import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 8
in_channels = 32
out_channels = 64
length = 2048
kernel_size = 5
pool_size = 2
scale = 0.5


class Model(nn.Module):
    """Conv1d ('same' padding), per-channel bias add, GELU, 1D max pooling, multiply by a constant."""

    def __init__(self, in_channels, out_channels, kernel_size, pool_size, scale):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.bias = nn.Parameter(torch.randn(out_channels, 1) * 0.02)
        self.pool_size = pool_size
        self.scale = scale

    def forward(self, x):
        x = self.conv(x)
        x = x + self.bias
        x = F.gelu(x)
        x = F.max_pool1d(x, self.pool_size)
        return x * self.scale


def get_inputs():
    return [torch.randn(batch_size, in_channels, length)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, pool_size, scale]
