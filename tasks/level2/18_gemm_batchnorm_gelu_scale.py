import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 256
in_features = 1024
out_features = 1024
scale = 0.5


class Model(nn.Module):
    """Linear layer, BatchNorm1d (batch statistics), GELU, multiply by a constant."""

    def __init__(self, in_features, out_features, scale):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        self.scale = scale

    def forward(self, x):
        x = self.linear(x)
        x = self.bn(x)
        x = F.gelu(x)
        return x * self.scale


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, scale]
