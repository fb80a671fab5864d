import torch
import torch.nn as nn

batch_size = 512
length = 4096
scan_dim = 1


class Model(nn.Module):
    """Masked prefix sum along dim 1: cumsum of x where mask is True (masked-out entries count as 0)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x * mask, dim=self.dim)


def get_inputs():
    x = torch.randn(batch_size, length)
    mask = torch.randint(0, 2, (batch_size, length)).bool()
    return [x, mask]


def get_init_inputs():
    return [scan_dim]
