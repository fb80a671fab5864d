import torch
import torch.nn as nn

M = 256
K = 8192
N = 256


class Model(nn.Module):
    """Matmul with a long inner dimension and a small output: (M, K) x (K, N) with K = 8192."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


def get_inputs():
    A = torch.randn(M, K)
    B = torch.randn(K, N)
    return [A, B]


def get_init_inputs():
    return []
