import torch
import torch.nn as nn

batch_size = 16
seq_len = 16
input_size = 256
hidden_size = 512


class Model(nn.Module):
    """Single-layer GRU unrolled over time with explicit Linear layers and gates (PyTorch GRU equations, h0 = 0); returns all hidden states (batch, seq_len, hidden).

    For each step t: r = sigmoid(Wir x + Whr h), z = sigmoid(Wiz x + Whz h),
    n = tanh(Win x + r * (Whn h)), h = (1 - z) * n + z * h (all W include biases).
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_gates = nn.Linear(input_size, 3 * hidden_size)
        self.hidden_gates = nn.Linear(hidden_size, 3 * hidden_size)

    def forward(self, x):
        b, t, _ = x.shape
        hs = self.hidden_size
        gi_all = self.input_gates(x)  # (b, t, 3h), input projections for all steps at once
        h = x.new_zeros(b, hs)
        outputs = []
        for step in range(t):
            gi = gi_all[:, step]
            gh = self.hidden_gates(h)
            r = torch.sigmoid(gi[:, :hs] + gh[:, :hs])
            z = torch.sigmoid(gi[:, hs:2 * hs] + gh[:, hs:2 * hs])
            n = torch.tanh(gi[:, 2 * hs:] + r * gh[:, 2 * hs:])
            h = (1.0 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, dim=1)


def get_inputs():
    return [torch.randn(batch_size, seq_len, input_size)]


def get_init_inputs():
    return [input_size, hidden_size]
