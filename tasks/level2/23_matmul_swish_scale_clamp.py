import torch
import torch.nn as nn

batch_size = 256
in_features = 1024
out_features = 1024
scale = 1.5
clamp_min = -0.5
clamp_max = 2.0


class Model(nn.Module):
    """x @ W + b with explicit parameters, Swish, multiply by a constant, clamp."""

    def __init__(self, in_features, out_features, scale, clamp_min, clamp_max):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_features, out_features) / in_features ** 0.5)
        self.bias = nn.Parameter(torch.randn(out_features) * 0.02)
        self.scale = scale
        self.clamp_min = clamp_min
        self.clamp_max = clamp_max

    def forward(self, x):
        x = torch.matmul(x, self.weight) + self.bias
        x = x * torch.sigmoid(x)
        x = x * self.scale
        return torch.clamp(x, self.clamp_min, self.clamp_max)


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, scale, clamp_min, clamp_max]
