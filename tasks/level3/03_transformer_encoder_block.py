import math

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 4
seq_len = 128
embed_dim = 256
num_heads = 8
mlp_dim = 1024


class Model(nn.Module):
    """Pre-LayerNorm transformer encoder block: x + MHA(LN(x)), then x + MLP(LN(x)) with GELU; attention written out with Linear projections and softmax."""

    def __init__(self, embed_dim, num_heads, mlp_dim):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.ln1 = nn.LayerNorm(embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.ln2 = nn.LayerNorm(embed_dim)
        self.fc1 = nn.Linear(embed_dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, embed_dim)

    def _split_heads(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.num_heads, self.head_dim).transpose(1, 2)  # (b, h, s, d)

    def forward(self, x):
        b, s, e = x.shape
        h = self.ln1(x)
        q = self._split_heads(self.q_proj(h))
        k = self._split_heads(self.k_proj(h))
        v = self._split_heads(self.v_proj(h))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        attn = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(attn, v).transpose(1, 2).reshape(b, s, e)
        x = x + self.out_proj(ctx)
        h = self.ln2(x)
        h = self.fc2(F.gelu(self.fc1(h)))
        return x + h


def get_inputs():
    return [torch.randn(batch_size, seq_len, embed_dim)]


def get_init_inputs():
    return [embed_dim, num_heads, mlp_dim]
