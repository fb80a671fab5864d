import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16
num_classes = 131072


class Model(nn.Module):
    """Cross-entropy loss (mean over the batch) of (batch, num_classes) logits against int64 class indices."""

    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(predictions, targets)


def get_inputs():
    # random per-sample logit scale (confidence), so the loss depends on the draw
    temperature = torch.rand(batch_size, 1) * 8.0
    predictions = torch.randn(batch_size, num_classes) * temperature
    targets = torch.randint(0, num_classes, (batch_size,))
    return [predictions, targets]


def get_init_inputs():
    return []
