import torch
import torch.nn as nn

M = 1024
K = 512
N = 2048


class Model(nn.Module):
    """Multiplies a (M, K) matrix by a (K, N) matrix, giving (M, N)."""

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
