import torch
import torch.nn as nn

batch_size = 8
num_features = 64
height = 64
width = 64


class Model(nn.Module):
    """BatchNorm2d in training mode: normalises each channel with its batch mean and (biased) variance."""

    def __init__(self, num_features: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x)


def get_inputs():
    x = torch.randn(batch_size, num_features, height, width)
    return [x]


def get_init_inputs():
    return [num_features]
