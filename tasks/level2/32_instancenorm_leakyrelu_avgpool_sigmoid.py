import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 8
channels = 32
height = 64
width = 64
negative_slope = 0.2
pool_size = 2


class Model(nn.Module):
    """InstanceNorm2d (no affine), LeakyReLU, 2D average pooling, Sigmoid."""

    def __init__(self, channels, negative_slope, pool_size):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels)
        self.negative_slope = negative_slope
        self.pool_size = pool_size

    def forward(self, x):
        x = self.norm(x)
        x = F.leaky_relu(x, self.negative_slope)
        x = F.avg_pool2d(x, self.pool_size)
        return torch.sigmoid(x)


def get_inputs():
    return [torch.randn(batch_size, channels, height, width) * 2.0 - 1.0]


def get_init_inputs():
    return [channels, negative_slope, pool_size]
