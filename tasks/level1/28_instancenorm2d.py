import torch
import torch.nn as nn

batch_size = 8
num_features = 64
height = 64
width = 64


class Model(nn.Module):
    """InstanceNorm2d (no affine): normalises each (sample, channel) plane to zero mean and unit variance."""

    def __init__(self, num_features: int):
        super().__init__()
        self.inorm = nn.InstanceNorm2d(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inorm(x)


def get_inputs():
    x = torch.randn(batch_size, num_features, height, width)
    return [x]


def get_init_inputs():
    return [num_features]
