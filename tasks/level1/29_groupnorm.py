import torch
import torch.nn as nn

batch_size = 16
num_features = 64
num_groups = 8
height = 64
width = 64


class Model(nn.Module):
    """GroupNorm: channels split into groups, each (sample, group) normalised, then per-channel affine."""

    def __init__(self, num_groups: int, num_features: int):
        super().__init__()
        self.gn = nn.GroupNorm(num_groups=num_groups, num_channels=num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gn(x)


def get_inputs():
    x = torch.randn(batch_size, num_features, height, width)
    return [x]


def get_init_inputs():
    return [num_groups, num_features]
