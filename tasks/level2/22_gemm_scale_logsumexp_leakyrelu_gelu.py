import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 256
in_features = 1024
out_features = 1024
scale = 3.0
negative_slope = 0.01


class Model(nn.Module):
    """Linear layer, multiply by a constant, logsumexp over features (keepdim), LeakyReLU, GELU."""

    def __init__(self, in_features, out_features, scale, negative_slope):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.scale = scale
        self.negative_slope = negative_slope

    def forward(self, x):
        x = self.linear(x)
        x = x * self.scale
        x = torch.logsumexp(x, dim=1, keepdim=True)
        x = F.leaky_relu(x, self.negative_slope)
        return F.gelu(x)


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, scale, negative_slope]
