"""The two sequence networks: an LSTM and a Transformer encoder, sharing one multi-task head.

Each reads a scaled window (batch, seq_len, n_features) and returns, in units of the scaled target:
the forward return, increasing quantiles, and the logit of an up move.
"""

from __future__ import annotations

import torch
from torch import nn


class MultiHead(nn.Module):
    """Return, quantiles (increasing by construction) and up-logit from one representation."""

    def __init__(self, width: int, n_quantiles: int) -> None:
        super().__init__()
        self.n_quantiles = n_quantiles
        self.out = nn.Linear(width, 2 + n_quantiles)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raw = self.out(h)
        ret, logit, q = raw[:, 0], raw[:, 1], raw[:, 2:]
        # lowest quantile plus cumulative positive steps: quantiles can never cross
        steps = nn.functional.softplus(q[:, 1:])
        quantiles = torch.cat([q[:, :1], q[:, :1] + torch.cumsum(steps, dim=1)], dim=1)
        return ret, quantiles, logit


class LstmNet(nn.Module):
    def __init__(
        self, n_features: int, n_quantiles: int, hidden: int = 32, layers: int = 1, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            n_features, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.drop = nn.Dropout(dropout)
        self.head = MultiHead(hidden, n_quantiles)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, _ = self.lstm(x)
        return self.head(self.drop(out[:, -1]))


class TransformerNet(nn.Module):
    def __init__(
        self,
        n_features: int,
        n_quantiles: int,
        seq_len: int,
        d_model: int = 32,
        heads: int = 4,
        layers: int = 2,
        ff: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, d_model)
        self.position = nn.Parameter(torch.zeros(1, seq_len, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ff, dropout, batch_first=True, norm_first=True, activation="gelu"
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = MultiHead(d_model, n_quantiles)
        nn.init.normal_(self.position, std=0.02)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(self.embed(x) + self.position)
        # every input is already in the past of the decision bar: the newest token summarises them
        return self.head(self.norm(h[:, -1]))


def build_network(kind: str, n_features: int, n_quantiles: int, seq_len: int, params: dict) -> nn.Module:
    """A fresh network of ``kind`` ('lstm' or 'transformer') with the architecture ``params``."""
    if kind == "lstm":
        keys = ("hidden", "layers", "dropout")
        return LstmNet(n_features, n_quantiles, **{k: params[k] for k in keys if k in params})
    if kind == "transformer":
        keys = ("d_model", "heads", "layers", "ff", "dropout")
        return TransformerNet(n_features, n_quantiles, seq_len, **{k: params[k] for k in keys if k in params})
    raise ValueError(f"unknown network {kind!r}: expected 'lstm' or 'transformer'")
