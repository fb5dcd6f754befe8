"""Digests of what a partial output depends on, for resume fingerprints: data, model weights and code.

A resumable stage (generation appending rows, training writing checkpoints) records these beside its partial output
and starts over when one differs, so a resumed run never mixes work done under other data, another model or other
code. All digests are sha256 hex strings and the same on every machine (little-endian, names included).

- `ids_digest(sequences)`: token-id sequences (each one length-prefixed, so boundaries count).
- `model_digest(model)`: a torch module's parameters (tied ones once) and buffers, by name, dtype, shape and bytes;
  about 0.4 s for SmolLM2-135M on a CPU core, the same as hashing its safetensors file.
- `source_digest(*modules)`: the source files of the named modules (edit a comment and it changes).
- `json_digest(value)`: anything JSON-able, with sorted keys.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch


def json_digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def ids_digest(sequences: Iterable[Sequence[int]]) -> str:
    digest = hashlib.sha256()
    for ids in sequences:
        digest.update(len(ids).to_bytes(8, "little"))
        digest.update(np.asarray(ids, dtype="<i8").tobytes())
    return digest.hexdigest()


def tensors_digest(named: Iterable[tuple[str, torch.Tensor]]) -> str:
    digest = hashlib.sha256()
    for name, tensor in named:
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(flat.view(torch.uint8).numpy())  # native byte order: little-endian on every supported platform
    return digest.hexdigest()


def model_digest(model: torch.nn.Module) -> str:
    return tensors_digest([*model.named_parameters(), *model.named_buffers()])


def module_source(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ValueError(f"{name}: no Python source file to fingerprint")
    return Path(spec.origin)


def source_digest(*modules: str) -> str:
    """The named modules' source files, in the given order (names included)."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update(f"{name}\n".encode())
        digest.update(module_source(name).read_bytes())
    return digest.hexdigest()


def differing_keys(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The top-level keys whose values differ (as JSON), for a one-line 'starting over' message."""
    saved, current = json.loads(json.dumps(saved)), json.loads(json.dumps(current))
    return sorted(key for key in saved.keys() | current.keys() if saved.get(key) != current.get(key))
