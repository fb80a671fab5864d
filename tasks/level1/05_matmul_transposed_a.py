import torch
import torch.nn as nn

M = 768
K = 768
N = 1024


class Model(nn.Module):
    """Matmul with a transposed left operand: A is stored (K, M), result is A.T @ B of shape (M, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A.T, B)


def get_inputs():
    A = torch.randn(K, M)
    B = torch.randn(K, N)
    return [A, B]


def get_init_inputs():
    return []
