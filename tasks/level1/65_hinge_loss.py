import torch
import torch.nn as nn

batch_size = 8
dim = 524288


class Model(nn.Module):
    """Hinge loss: mean(clamp(1 - predictions * targets, min=0)) with targets in {-1, +1}."""

    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.mean(torch.clamp(1 - predictions * targets, min=0))


def get_inputs():
    targets = torch.randint(0, 2, (batch_size, dim)).float() * 2 - 1
    # noisy scores with a random per-sample margin, so the loss depends on the draw
    margin = torch.rand(batch_size, 1) * 2.0
    predictions = targets * margin + torch.randn(batch_size, dim)
    return [predictions, targets]


def get_init_inputs():
    return []
