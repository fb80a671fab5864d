import torch
import torch.nn as nn

batch_size = 256
dim = 8192
margin = 1.0


class Model(nn.Module):
    """Triplet margin loss: mean(max(||a - p||_2 - ||a - n||_2 + margin, 0)) over the batch."""

    def __init__(self, margin: float):
        super().__init__()
        self.loss_fn = nn.TripletMarginLoss(margin=margin)

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(anchor, positive, negative)


def get_inputs():
    anchor = torch.randn(batch_size, dim)
    positive = torch.randn(batch_size, dim)
    negative = torch.randn(batch_size, dim)
    return [anchor, positive, negative]


def get_init_inputs():
    return [margin]
