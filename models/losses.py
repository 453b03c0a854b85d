"""Losses of the multi-task head: squared error on the return, pinball on quantiles, BCE on direction."""

from __future__ import annotations

import torch
from torch import nn


def pinball(quantiles: torch.Tensor, target: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Mean pinball (quantile) loss of ``quantiles`` (n, q) at ``levels`` (q,) against ``target`` (n,)."""
    error = target[:, None] - quantiles
    return torch.maximum(levels * error, (levels - 1) * error).mean()


def multitask_loss(
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    target: torch.Tensor,
    levels: torch.Tensor,
) -> torch.Tensor:
    """MSE(return) + pinball(quantiles) + BCE(up), each of order one on a scaled target."""
    ret, quantiles, logit = outputs
    up = (target > 0).to(logit.dtype)
    return (
        nn.functional.mse_loss(ret, target)
        + pinball(quantiles, target, levels)
        + nn.functional.binary_cross_entropy_with_logits(logit, up)
    )
