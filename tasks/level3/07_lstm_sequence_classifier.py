import torch
import torch.nn as nn

batch_size = 16
seq_len = 32
input_size = 128
hidden_size = 256
num_layers = 2
num_classes = 10


class Model(nn.Module):
    """Two-layer nn.LSTM (batch_first=True, zero initial state) over the sequence, then a Linear classifier on the last time step's output."""

    def __init__(self, input_size, hidden_size, num_layers, num_classes):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def get_inputs():
    return [torch.randn(batch_size, seq_len, input_size)]


def get_init_inputs():
    return [input_size, hidden_size, num_layers, num_classes]
