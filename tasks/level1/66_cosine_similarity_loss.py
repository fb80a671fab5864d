import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 64
dim = 65536


class Model(nn.Module):
    """Cosine similarity loss: mean over rows of 1 - cos(predictions[i], targets[i])."""

    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        cosine_sim = F.cosine_similarity(predictions, targets, dim=1)
        return torch.mean(1 - cosine_sim)


def get_inputs():
    predictions = torch.randn(batch_size, dim)
    # targets are predictions plus noise of a random per-sample level
    noise_scale = torch.rand(batch_size, 1) * 2.0
    targets = predictions + noise_scale * torch.randn(batch_size, dim)
    return [predictions, targets]


def get_init_inputs():
    return []
