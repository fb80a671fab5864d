import torch
import torch.nn as nn

batch_size = 16
M = 256
K = 512
N = 384


class Model(nn.Module):
    """Multiplies a 3D tensor (batch, M, K) by a shared matrix (K, N), giving (batch, M, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


def get_inputs():
    A = torch.randn(batch_size, M, K)
    B = torch.randn(K, N)
    return [A, B]


def get_init_inputs():
    return []
