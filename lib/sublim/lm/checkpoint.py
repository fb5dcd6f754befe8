"""Resumable training checkpoints: trainable weights as safetensors, optimizer/scheduler/RNG state, losses.

A checkpoint records the fingerprint of its run (settings, data size, mode); resuming under another fingerprint is
refused, so a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from sublim.core.io import atomic_dir

CHECKPOINT_WEIGHTS = "trainable.safetensors"
CHECKPOINT_STATE = "state.pt"
CHECKPOINT_META = "checkpoint.json"


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """The tensors that training changes: the LoRA adapter, or every parameter (tied ones once)."""
    named = {name: p for name, p in model.named_parameters() if p.requires_grad}
    return {name: p.detach().cpu().contiguous().clone() for name, p in named.items()}


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [name for name in state if name not in params]
    if missing:
        raise ValueError(f"checkpoint holds parameters the model lacks: {missing[:5]}")
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    directory: Path, model: Any, optimizer, scheduler, step: int, losses: list[float], fingerprint: dict[str, Any]
) -> None:
    with atomic_dir(directory) as tmp:
        save_file(trainable_state(model), str(tmp / CHECKPOINT_WEIGHTS))
        torch.save(
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state()},
            tmp / CHECKPOINT_STATE,
        )
        (tmp / CHECKPOINT_META).write_text(json.dumps({"step": step, "losses": losses, "run": fingerprint}))


def load_checkpoint(
    directory: Path | None, model: Any, optimizer, scheduler, fingerprint: dict[str, Any]
) -> tuple[int, list[float]]:
    """Restore a checkpoint if there is one; return (steps done, their losses)."""
    if directory is None or not (directory / CHECKPOINT_META).exists():
        return 0, []
    meta = json.loads((directory / CHECKPOINT_META).read_text())
    if meta["run"] != json.loads(json.dumps(fingerprint)):
        raise ValueError(
            f"{directory}: the checkpoint belongs to another run (settings or data differ); delete it to start over"
        )
    load_trainable_state(model, load_file(str(directory / CHECKPOINT_WEIGHTS)))
    state = torch.load(directory / CHECKPOINT_STATE, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return int(meta["step"]), list(meta["losses"])
