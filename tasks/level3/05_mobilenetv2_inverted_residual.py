import torch
import torch.nn as nn

batch_size = 4
channels = 32
expand_ratio = 6
height = 28
width = 28


class Model(nn.Module):
    """MobileNetV2 inverted residual block (stride 1): 1x1 expand-BN-ReLU6, 3x3 depthwise-BN-ReLU6, 1x1 project-BN, plus identity shortcut."""

    def __init__(self, channels, expand_ratio):
        super().__init__()
        hidden = channels * expand_ratio
        self.expand = nn.Conv2d(channels, hidden, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.depthwise = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.project = nn.Conv2d(hidden, channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.clamp(self.bn1(self.expand(x)), 0.0, 6.0)
        out = torch.clamp(self.bn2(self.depthwise(out)), 0.0, 6.0)
        out = self.bn3(self.project(out))
        return out + x


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [channels, expand_ratio]
