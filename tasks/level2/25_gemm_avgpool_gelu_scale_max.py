import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 256
in_features = 1024
out_features = 1024
pool_kernel = 4
scale = 2.0


class Model(nn.Module):
    """Linear layer, 1D average pooling over features, GELU, multiply by a constant, max over features."""

    def __init__(self, in_features, out_features, pool_kernel, scale):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.pool_kernel = pool_kernel
        self.scale = scale

    def forward(self, x):
        x = self.linear(x)
        x = F.avg_pool1d(x.unsqueeze(1), self.pool_kernel).squeeze(1)
        x = F.gelu(x)
        x = x * self.scale
        return torch.max(x, dim=1).values


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, pool_kernel, scale]
