import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 256
in_features = 1024
out_features = 1024
subtract_value = 0.25


class Model(nn.Module):
    """Linear layer, subtract a constant, Mish, Mish again."""

    def __init__(self, in_features, out_features, subtract_value):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.subtract_value = subtract_value

    def forward(self, x):
        x = self.linear(x)
        x = x - self.subtract_value
        x = F.mish(x)
        return F.mish(x)


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, subtract_value]
