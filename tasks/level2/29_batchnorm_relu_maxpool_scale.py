import torch
import torch.nn as nn

batch_size = 8
channels = 32
height = 64
width = 64
pool_size = 2
scale = 1.5


class Model(nn.Module):
    """BatchNorm2d (batch statistics), ReLU, 2D max pooling, multiply by a constant."""

    def __init__(self, channels, pool_size, scale):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.pool = nn.MaxPool2d(pool_size)
        self.scale = scale

    def forward(self, x):
        x = self.bn(x)
        x = torch.relu(x)
        x = self.pool(x)
        return x * self.scale


def get_inputs():
    # shifted and widened input so that the normalisation is not an identity
    x = torch.randn(batch_size, channels, height, width)
    return [x * 2.0 + 0.5]


def get_init_inputs():
    return [channels, pool_size, scale]
