import torch
import torch.nn as nn

batch_size = 4
in_channels = 16
out_channels = 8
depth = 8
height = 16
width = 16
kernel_size = 3
stride = 2
padding = 1
output_padding = 1
pool_size = 2


class Model(nn.Module):
    """ConvTranspose3d (2x upsampling), BatchNorm3d (batch statistics), ReLU, 3D average pooling."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, pool_size):
        super().__init__()
        self.conv_t = nn.ConvTranspose3d(in_channels, out_channels, kernel_size, stride=stride,
                                         padding=padding, output_padding=output_padding)
        self.bn = nn.BatchNorm3d(out_channels)
        self.pool = nn.AvgPool3d(pool_size)

    def forward(self, x):
        x = self.conv_t(x)
        x = self.bn(x)
        x = torch.relu(x)
        return self.pool(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, depth, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding, output_padding, pool_size]
