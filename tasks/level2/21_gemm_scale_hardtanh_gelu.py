import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 256
in_features = 1024
out_features = 1024
scale = 2.0
hardtanh_min = -1.0
hardtanh_max = 1.0


class Model(nn.Module):
    """Linear layer, multiply by a constant, Hardtanh, GELU."""

    def __init__(self, in_features, out_features, scale, hardtanh_min, hardtanh_max):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.scale = scale
        self.hardtanh_min = hardtanh_min
        self.hardtanh_max = hardtanh_max

    def forward(self, x):
        x = self.linear(x)
        x = x * self.scale
        x = F.hardtanh(x, self.hardtanh_min, self.hardtanh_max)
        return F.gelu(x)


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, scale, hardtanh_min, hardtanh_max]
