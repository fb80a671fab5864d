import torch
import torch.nn as nn

batch_size = 32
M = 256
K = 384
N = 256


class Model(nn.Module):
    """Batched matrix multiply (bmm): (batch, M, K) x (batch, K, N) -> (batch, M, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.bmm(A, B)


def get_inputs():
    A = torch.randn(batch_size, M, K)
    B = torch.randn(batch_size, K, N)
    return [A, B]


def get_init_inputs():
    return []
