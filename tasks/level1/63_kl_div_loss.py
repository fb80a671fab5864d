import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 32
dim = 32768


class Model(nn.Module):
    """KL divergence KL(targets || predictions) between row-wise distributions, 'batchmean' reduction."""

    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.kl_div(torch.log(predictions), targets, reduction="batchmean")


def get_inputs():
    # softmax of logits with a random per-sample sharpness, so the divergence depends on the draw
    pred_scale = torch.rand(batch_size, 1) * 2.0 + 0.25
    target_scale = torch.rand(batch_size, 1) * 2.0 + 0.25
    predictions = torch.softmax(torch.randn(batch_size, dim) * pred_scale, dim=1)
    targets = torch.softmax(torch.randn(batch_size, dim) * target_scale, dim=1)
    return [predictions, targets]


def get_init_inputs():
    return []
