import torch
import torch.nn as nn

batch_size = 256
in_features = 1024
out_features = 1024
num_groups = 16


class Model(nn.Module):
    """Linear layer, GroupNorm over feature groups, Swish (x * sigmoid(x)), learned bias add."""

    def __init__(self, in_features, out_features, num_groups):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.GroupNorm(num_groups, out_features)
        self.bias = nn.Parameter(torch.randn(out_features) * 0.02)

    def forward(self, x):
        x = self.linear(x)
        x = self.norm(x)
        x = x * torch.sigmoid(x)
        return x + self.bias


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, num_groups]
