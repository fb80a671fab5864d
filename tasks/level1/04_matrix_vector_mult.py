import torch
import torch.nn as nn

M = 4096
K = 2048


class Model(nn.Module):
    """Matrix-vector product: a (M, K) matrix times a (K, 1) column vector gives (M, 1)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


def get_inputs():
    A = torch.randn(M, K)
    B = torch.randn(K, 1)
    return [A, B]


def get_init_inputs():
    return []
