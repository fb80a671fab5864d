import torch
import torch.nn as nn

batch_size = 16
m = 512
k = 256
n = 128
scale = 0.0625


class Model(nn.Module):
    """Batched matmul of two inputs, learned bias add over the last dim, multiply by a constant, softmax over the last dim."""

    def __init__(self, n, scale):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(n) * 0.02)
        self.scale = scale

    def forward(self, a, b):
        x = torch.bmm(a, b)
        x = x + self.bias
        x = x * self.scale
        return torch.softmax(x, dim=-1)


def get_inputs():
    return [torch.randn(batch_size, m, k), torch.randn(batch_size, k, n)]


def get_init_inputs():
    return [n, scale]
