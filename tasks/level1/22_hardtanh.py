import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 224
dim = 32768
max_val = 1.0


class Model(nn.Module):
    """Applies HardTanh element-wise: clamps x to [-max_val, max_val]."""

    def __init__(self, max_val: float):
        super().__init__()
        self.max_val = max_val

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardtanh(x, min_val=-self.max_val, max_val=self.max_val)


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return [max_val]
