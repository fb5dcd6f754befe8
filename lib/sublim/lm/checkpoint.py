"""Resumable training checkpoints in safe formats: nothing in a checkpoint folder is ever unpickled.

A checkpoint folder holds the trainable weights (`trainable.safetensors`), the optimizer's tensors
(`optimizer.safetensors`) and `checkpoint.json`: step, losses, the run's fingerprint, the optimizer's other state and
param-group hyperparameters, the scheduler's state and the RNG states (torch, CUDA, Python, numpy) as lists and ints.
Loading reads safetensors and JSON only. A checkpoint written under another fingerprint (settings, data, model or
code), in an older format, or with an unreadable `checkpoint.json` is discarded (one line says why) and the run
starts over; a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from sublim.core.fingerprint import differing_keys, source_digest
from sublim.core.io import atomic_dir, writer_lock

CHECKPOINT_WEIGHTS = "trainable.safetensors"
CHECKPOINT_OPTIMIZER = "optimizer.safetensors"
CHECKPOINT_META = "checkpoint.json"
CHECKPOINT_FORMAT = 2  # 1 was a pickled state.pt (never read now)
TRAIN_CODE = ("sublim.lm.train", "sublim.lm.checkpoint", "sublim.core.seeds")  # the code a checkpoint depends on


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


# ---------------------------------------------------------------- RNG states as JSON


def rng_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    kind, key, position, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state().tolist(),
        "python": [version, list(internal), gauss],
        "numpy": [kind, key.tolist(), int(position), int(has_gauss), float(cached)],
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, key, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(key, dtype=np.uint32), position, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


# ---------------------------------------------------------------- optimizer state: tensors apart from the rest


def split_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors named "<param index>.<key>", everything else as JSON-able values)."""
    tensors: dict[str, torch.Tensor] = {}
    other: dict[str, dict[str, Any]] = {}
    for index, entries in state_dict["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                other.setdefault(str(index), {})[key] = value
    return tensors, {"state": other, "param_groups": state_dict["param_groups"]}


def join_optimizer_state(
    tensors: dict[str, torch.Tensor], saved: dict[str, Any], current_groups: list[dict[str, Any]]
) -> dict[str, Any]:
    """The optimizer's state_dict again; tuples (AdamW's betas) come back as tuples, as the optimizer made them."""
    state: dict[int, dict[str, Any]] = {int(index): dict(entries) for index, entries in saved["state"].items()}
    for name, tensor in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = tensor
    groups = [
        {key: tuple(value) if isinstance(current.get(key), tuple) else value for key, value in group.items()}
        for group, current in zip(saved["param_groups"], current_groups, strict=True)
    ]
    return {"state": state, "param_groups": groups}


# ---------------------------------------------------------------- save / load


def save_checkpoint(
    directory: Path, model: Any, optimizer, scheduler, step: int, losses: list[float], fingerprint: dict[str, Any]
) -> None:
    optimizer_tensors, optimizer_rest = split_optimizer_state(optimizer.state_dict())
    meta = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "losses": losses,
        "run": fingerprint,
        "optimizer": optimizer_rest,
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
    }
    with atomic_dir(directory) as tmp:
        save_file(trainable_state(model), str(tmp / CHECKPOINT_WEIGHTS))
        save_file(optimizer_tensors, str(tmp / CHECKPOINT_OPTIMIZER))
        (tmp / CHECKPOINT_META).write_text(json.dumps(meta))


def load_checkpoint(
    directory: Path | None, model: Any, optimizer, scheduler, fingerprint: dict[str, Any]
) -> tuple[int, list[float]]:
    """Restore the checkpoint if there is one of this run; return (steps done, their losses). Any other checkpoint
    is deleted, with one line saying why."""
    if directory is None or not (directory / CHECKPOINT_META).exists():
        return 0, []
    meta = _read_meta(directory)
    problem = stale_reason(meta, fingerprint)
    if problem is not None:
        print(f"{directory}: {problem}; discarding it and starting over")
        shutil.rmtree(directory)
        return 0, []
    load_trainable_state(model, load_file(str(directory / CHECKPOINT_WEIGHTS)))
    optimizer_tensors = load_file(str(directory / CHECKPOINT_OPTIMIZER))
    optimizer.load_state_dict(join_optimizer_state(optimizer_tensors, meta["optimizer"], optimizer.param_groups))
    scheduler.load_state_dict(meta["scheduler"])
    set_rng_state(meta["rng"])
    return int(meta["step"]), list(meta["losses"])


def _read_meta(directory: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((directory / CHECKPOINT_META).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def stale_reason(meta: dict[str, Any] | None, fingerprint: dict[str, Any]) -> str | None:
    """Why a checkpoint cannot be resumed by this run (None: it can)."""
    if meta is None:
        return f"its {CHECKPOINT_META} is unreadable"
    if meta.get("format") != CHECKPOINT_FORMAT:
        return "the checkpoint is in an older format"
    differ = differing_keys(meta.get("run") or {}, fingerprint)
    if differ:
        return f"the checkpoint belongs to another run ({', '.join(differ)} differ)"
    return None


# ---------------------------------------------------------------- what the training loop uses


@dataclass(frozen=True)
class Checkpointer:
    """Where a run checkpoints, how often (optimizer steps; 0 = never) and under which fingerprint."""

    directory: Path | None
    every: int = 0
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def restore(self, model: Any, optimizer, scheduler) -> tuple[int, list[float]]:
        return load_checkpoint(self.directory, model, optimizer, scheduler, self.fingerprint)

    def after_step(self, step: int, total: int, model: Any, optimizer, scheduler, losses: list[float]) -> None:
        if self.directory is not None and self.every and (step % self.every == 0 or step == total):
            save_checkpoint(self.directory, model, optimizer, scheduler, step, losses, self.fingerprint)


@contextmanager
def checkpointing(
    directory: Path | str | None, every: int, fingerprint: Callable[[], dict[str, Any]]
) -> Iterator[Checkpointer]:
    """A run's checkpointer. With a folder, the block holds the folder's writer lock, and the fingerprint is
    `fingerprint()` (computed under the lock) plus the digest of the training code."""
    if directory is None:
        yield Checkpointer(None)
        return
    directory = Path(directory)
    with writer_lock(directory):
        yield Checkpointer(directory, every, {**fingerprint(), "code": source_digest(*TRAIN_CODE)})
