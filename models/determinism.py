"""Same seed, same model: seeding, deterministic kernels, fixed threads, device choice."""

from __future__ import annotations

import os
import random

import numpy as np


def resolve_device(requested: str) -> str:
    """'cpu', or 'cuda' where asked for ('cuda', or 'auto' with a GPU present).

    Raises ValueError when 'cuda' is asked for and torch sees no GPU.
    """
    import torch

    if requested == "cpu":
        return "cpu"
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("KIMERA_DEVICE=cuda but torch sees no CUDA GPU; use 'cpu' or 'auto'")
        return "cuda"
    raise ValueError(f"unknown device {requested!r}: expected 'cpu', 'cuda' or 'auto'")


def seed_everything(seed: int, threads: int, device: str = "cpu") -> None:
    """Seed python, numpy and torch, fix the thread count and ask torch for deterministic kernels."""
    import torch

    if device == "cuda":
        # cuBLAS needs a fixed workspace to be deterministic (read by CUDA at first use)
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
