import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 8
in_channels = 32
out_channels = 8
height = 48
width = 48
kernel_size = 3
stride = 2
padding = 1
output_padding = 1
pool_size = 2


class Model(nn.Module):
    """ConvTranspose2d, logsumexp over channels (keepdim), GELU, 2D average pooling."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, pool_size):
        super().__init__()
        self.conv_t = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride,
                                         padding=padding, output_padding=output_padding)
        self.pool_size = pool_size

    def forward(self, x):
        x = self.conv_t(x)
        x = torch.logsumexp(x, dim=1, keepdim=True)
        x = F.gelu(x)
        return F.avg_pool2d(x, self.pool_size)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, output_padding, pool_size]
