"""The one way a seed is derived: each random choice gets its own stream from the experiment's seed and the names
of the choice, e.g. `derive_seed(seed, "teacher", trait)` or `derive_seed(seed, model_id, INIT_TAG)`.

numpy's `SeedSequence` mixes the key into well-separated streams, the same on every machine; names are hashed
with crc32 (stable, unlike Python's `hash`). The result is a non-negative 31-bit int, which every consumer accepts
(torch, numpy's legacy global seed, Python's `random`).
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def derive_seed(*key: int | str) -> int:
    """A seed for the random choice named by `key` (non-negative ints and strings)."""
    words = [zlib.crc32(part.encode()) if isinstance(part, str) else int(part) for part in key]
    return int(np.random.SeedSequence(words).generate_state(1)[0] >> 1)


def torch_generator(*key: int | str) -> torch.Generator:
    """A CPU torch generator seeded with `derive_seed(*key)`."""
    return torch.Generator().manual_seed(derive_seed(*key))
