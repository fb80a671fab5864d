import torch
import torch.nn as nn

N = 1024
M = 1024


class Model(nn.Module):
    """Diagonal matrix times matrix: diag(A) @ B, with A a length-N vector and B of shape (N, M)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.diag(A) @ B


def get_inputs():
    A = torch.randn(N)
    B = torch.randn(N, M)
    return [A, B]


def get_init_inputs():
    return []
