import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 32
dim = 131072


class Model(nn.Module):
    """Smooth L1 (Huber, beta = 1) loss between predictions and targets, averaged to a scalar."""

    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.smooth_l1_loss(predictions, targets)


def get_inputs():
    targets = torch.randn(batch_size, dim)
    # each sample gets its own error level, so the loss depends on the draw
    noise_scale = torch.rand(batch_size, 1) * 3.0
    predictions = targets + noise_scale * torch.randn(batch_size, dim)
    return [predictions, targets]


def get_init_inputs():
    return []
