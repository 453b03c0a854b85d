"""LSTM and Transformer forecasters: training with early stopping, prediction, files."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.base import Model, ModelFileError, common_args
from models.determinism import resolve_device, seed_everything
from models.forecast import Forecast
from models.scaling import Scaler
from models.windows import Windows

# CPU matrix kernels round differently for different batch sizes: every forward pass runs on a
# block of exactly this many windows (the last one padded), so one window served alone gets the
# very same numbers as in a batch during training
PREDICT_CHUNK = 64


@dataclass
class TrainingLog:
    epochs: int = 0
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    val_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


class NetworkModel(Model):
    """A trained LSTM or Transformer with its scaler; predicts on CPU."""

    def __init__(self, network, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.network = network.cpu().eval()
        self._kind = kind
        self.log = TrainingLog()

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self._kind

    def _predict(self, x: np.ndarray, asset: np.ndarray) -> Forecast:
        import torch

        scaled = self.scaler.transform(x, asset)
        rets, quants, probs = [], [], []
        with torch.inference_mode():
            for start in range(0, len(scaled), PREDICT_CHUNK):
                block = scaled[start : start + PREDICT_CHUNK]
                n = len(block)
                if n < PREDICT_CHUNK:
                    block = np.concatenate([block, np.repeat(block[-1:], PREDICT_CHUNK - n, axis=0)])
                ret, q, logit = self.network(torch.from_numpy(block))
                rets.append(ret[:n].double().numpy())
                quants.append(q[:n].double().numpy())
                probs.append(torch.sigmoid(logit[:n]).double().numpy())
        scale = self.scaler.target_scale
        quantiles = widen(np.concatenate(quants), float(self.params.get("interval_adjust", 0.0)))
        return Forecast(np.concatenate(rets) * scale, quantiles * scale, np.concatenate(probs), self.levels)

    def _save_weights(self, folder: Path) -> None:
        import torch

        torch.save(self.network.state_dict(), folder / "state_dict.pt")

    @classmethod
    def _load(cls, folder: Path, config: dict[str, Any], scaler: Scaler) -> NetworkModel:
        import torch

        from models.networks import build_network

        path = folder / "state_dict.pt"
        if not path.is_file():
            raise ModelFileError(f"{path} not found: the network's weights are missing")
        args = common_args(config, scaler)
        network = build_network(
            config["kind"], len(args["feature_names"]), len(args["levels"]), args["seq_len"], args["params"]
        )
        network.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
        return cls(network, config["kind"], **args)


def widen(quantiles: np.ndarray, adjust: float) -> np.ndarray:
    """Move the outer quantiles out by ``adjust`` (in by a negative one) without crossing their neighbours."""
    if adjust == 0.0:
        return quantiles
    out = quantiles.copy()
    out[:, 0] = np.minimum(quantiles[:, 0] - adjust, quantiles[:, 1])
    out[:, -1] = np.maximum(quantiles[:, -1] + adjust, quantiles[:, -2])
    return out


def conformal_adjust(lower: np.ndarray, upper: np.ndarray, target: np.ndarray, coverage: float) -> float:
    """Split-conformal (CQR) widening so that [lower, upper] held ``coverage`` of the validation targets."""
    scores = np.maximum(lower - target, target - upper)
    n = len(scores)
    level = min(1.0, coverage * (n + 1) / n)
    return float(np.quantile(scores, level, method="higher"))


def train_network(
    kind: str,
    params: dict[str, Any],
    fit: Windows,
    val: Windows,
    levels: tuple[float, ...],
    seed: int,
    *,
    max_epochs: int,
    patience: int,
    batch_size: int,
    threads: int,
    device: str = "cpu",
    on_epoch: Callable[[int, float], None] | None = None,
) -> NetworkModel:
    """Train a network of ``kind`` on the labelled ``fit`` windows, early-stopped on ``val``.

    The scaler is fit on ``fit`` only. ``params`` holds the architecture (hidden, layers, ...) and
    the optimiser's ``lr`` and ``weight_decay``. ``on_epoch(epoch, val_loss)`` may raise to stop
    (optuna pruning). Same seed and inputs give the same weights.
    """
    import torch

    from models.losses import multitask_loss
    from models.networks import build_network

    started = time.perf_counter()
    device = resolve_device(device)
    seed_everything(seed, threads, device)
    fit = fit.take(np.flatnonzero(fit.labelled))
    val = val.take(np.flatnonzero(val.labelled))
    if len(fit) == 0 or len(val) == 0:
        raise ValueError(f"need labelled fit and validation windows, got {len(fit)} and {len(val)}")
    scaler = Scaler.fit(fit)

    def tensors(w: Windows) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(scaler.transform(w.x, w.asset)).to(device)
        y = torch.from_numpy((w.fwd_ret / scaler.target_scale).astype(np.float32)).to(device)
        return x, y

    x_fit, y_fit = tensors(fit)
    x_val, y_val = tensors(val)
    level_t = torch.tensor(levels, dtype=torch.float32, device=device)
    network = build_network(kind, x_fit.shape[2], len(levels), x_fit.shape[1], params).to(device)
    optimiser = torch.optim.AdamW(
        network.parameters(),
        lr=float(params.get("lr", 1e-3)),
        weight_decay=float(params.get("weight_decay", 0)),
    )
    shuffle = torch.Generator().manual_seed(seed)
    log = TrainingLog()
    best_state = copy.deepcopy(network.state_dict())
    for epoch in range(1, max_epochs + 1):
        network.train()
        order = torch.randperm(len(x_fit), generator=shuffle).to(device)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss = multitask_loss(network(x_fit[batch]), y_fit[batch], level_t)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
        network.eval()
        with torch.inference_mode():
            val_loss = float(multitask_loss(network(x_val), y_val, level_t))
        log.val_losses.append(val_loss)
        log.epochs = epoch
        if val_loss < log.best_val_loss:
            log.best_val_loss, log.best_epoch = val_loss, epoch
            best_state = copy.deepcopy(network.state_dict())
        if on_epoch is not None:
            on_epoch(epoch, val_loss)
        if epoch - log.best_epoch >= patience:
            break
    network.load_state_dict(best_state)
    network.eval()
    with torch.inference_mode():
        _, q_val, _ = network(x_val)
    q_val = q_val.double().cpu().numpy()
    # calibrate the interval on validation (inside the training window): the quantile head alone
    # is early-stopped with the other heads and tends to be too narrow
    params = {
        **params,
        "interval_adjust": conformal_adjust(
            q_val[:, 0], q_val[:, -1], y_val.double().cpu().numpy(), levels[-1] - levels[0]
        ),
    }
    model = NetworkModel(
        network,
        kind,
        feature_names=fit.feature_names,
        seq_len=fit.seq_len,
        horizon=fit.horizon,
        levels=levels,
        scaler=scaler,
        params=dict(params),
    )
    log.seconds = time.perf_counter() - started
    model.log = log
    return model
