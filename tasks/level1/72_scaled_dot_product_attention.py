import torch
import torch.nn as nn

batch_size = 2
num_heads = 8
seq_len = 256
head_dim = 64


class Model(nn.Module):
    """Scaled dot-product attention: softmax(Q K^T / sqrt(head_dim)) V on (batch, heads, seq, head_dim) inputs."""

    def __init__(self):
        super().__init__()

    def forward(self, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        scores = torch.matmul(Q, K.transpose(-2, -1)) / (Q.size(-1) ** 0.5)
        weights = torch.softmax(scores, dim=-1)
        return torch.matmul(weights, V)


def get_inputs():
    Q = torch.randn(batch_size, num_heads, seq_len, head_dim)
    K = torch.randn(batch_size, num_heads, seq_len, head_dim)
    V = torch.randn(batch_size, num_heads, seq_len, head_dim)
    return [Q, K, V]


def get_init_inputs():
    return []
