import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16
in_channels = 3
image_size = 32
width1 = 16
width2 = 32
width3 = 64
num_classes = 10


class Model(nn.Module):
    """Small VGG-style CNN: three (conv3x3-BN-ReLU, 2x2 max pool) stages of growing width, global average pool, Linear classifier."""

    def __init__(self, in_channels, width1, width2, width3, num_classes):
        super().__init__()
        chans = [in_channels, width1, width2, width3]
        stages = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            stages.append(nn.Conv2d(cin, cout, kernel_size=3, padding=1))
            stages.append(nn.BatchNorm2d(cout))
            stages.append(nn.ReLU())
            stages.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*stages)
        self.classifier = nn.Linear(width3, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, width1, width2, width3, num_classes]
