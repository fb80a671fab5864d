import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 4
in_channels = 32
out_channels = 32
height = 32
width = 32
kernel_size = 4
stride = 2
padding = 1
pool_size = 2
hardtanh_min = -1.0
hardtanh_max = 1.0


class Model(nn.Module):
    """ConvTranspose2d, 2D max pooling, Hardtanh, mean over (H, W) with keepdim, Tanh."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, pool_size,
                 hardtanh_min, hardtanh_max):
        super().__init__()
        self.conv_t = nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
                                         stride=stride, padding=padding)
        self.pool = nn.MaxPool2d(pool_size)
        self.hardtanh_min = hardtanh_min
        self.hardtanh_max = hardtanh_max

    def forward(self, x):
        x = self.conv_t(x)
        x = self.pool(x)
        x = F.hardtanh(x, self.hardtanh_min, self.hardtanh_max)
        x = x.mean(dim=(2, 3), keepdim=True)
        return torch.tanh(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, pool_size,
            hardtanh_min, hardtanh_max]
