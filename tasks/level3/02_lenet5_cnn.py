import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 64
in_channels = 1
image_size = 32
conv1_channels = 6
conv2_channels = 16
fc1_size = 120
fc2_size = 84
num_classes = 10


class Model(nn.Module):
    """LeNet-5 style CNN: two (5x5 conv, ReLU, 2x2 max pool) stages, then three Linear layers with ReLU."""

    def __init__(self, in_channels, image_size, conv1_channels, conv2_channels, fc1_size, fc2_size,
                 num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, conv1_channels, kernel_size=5)
        self.conv2 = nn.Conv2d(conv1_channels, conv2_channels, kernel_size=5)
        spatial = ((image_size - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(conv2_channels * spatial * spatial, fc1_size)
        self.fc2 = nn.Linear(fc1_size, fc2_size)
        self.fc3 = nn.Linear(fc2_size, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, image_size, conv1_channels, conv2_channels, fc1_size, fc2_size, num_classes]
