import torch
import torch.nn as nn

batch_size = 256
input_size = 784
hidden_sizes = (1024, 512, 256)
output_size = 10


class Model(nn.Module):
    """Multi-layer perceptron: Linear+ReLU for each hidden size, then a final Linear to the output size."""

    def __init__(self, input_size, hidden_sizes, output_size):
        super().__init__()
        layers = []
        prev = input_size
        for h in hidden_sizes:
            layers.append(nn.Linear(prev, h))
            layers.append(nn.ReLU())
            prev = h
        layers.append(nn.Linear(prev, output_size))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def get_inputs():
    return [torch.randn(batch_size, input_size)]


def get_init_inputs():
    return [input_size, hidden_sizes, output_size]
