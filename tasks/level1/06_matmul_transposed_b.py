import torch
import torch.nn as nn

M = 1024
K = 768
N = 768


class Model(nn.Module):
    """Matmul with a transposed right operand: B is stored (N, K), result is A @ B.T of shape (M, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B.T)


def get_inputs():
    A = torch.randn(M, K)
    B = torch.randn(N, K)
    return [A, B]


def get_init_inputs():
    return []
