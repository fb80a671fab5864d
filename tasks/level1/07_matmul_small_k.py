import torch
import torch.nn as nn

M = 2048
K = 32
N = 2048


class Model(nn.Module):
    """Matmul with a tiny inner dimension: (M, K) x (K, N) with K = 32 (output-bandwidth bound)."""

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
