import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 256
in_features = 1024
out_features = 1024
min_value = 0.5
negative_slope = 0.2


class Model(nn.Module):
    """Linear layer, elementwise minimum with a constant, LeakyReLU, learned bias add."""

    def __init__(self, in_features, out_features, min_value, negative_slope):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.bias = nn.Parameter(torch.randn(out_features) * 0.02)
        self.min_value = min_value
        self.negative_slope = negative_slope

    def forward(self, x):
        x = self.linear(x)
        x = torch.clamp(x, max=self.min_value)  # min(x, min_value)
        x = F.leaky_relu(x, self.negative_slope)
        return x + self.bias


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, min_value, negative_slope]
