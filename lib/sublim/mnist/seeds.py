"""Independent random streams for the MNIST experiment, one per (base seed, model, purpose, ...) key.

A model's init, its aux columns, the noise images and the perturbations each draw from their own stream,
so no draw depends on how many models (or aux logits) a run has.
"""

from __future__ import annotations

import numpy as np
import torch

INIT_TAG, AUX_TAG, NOISE_TAG = 0, 1, 2  # seed-sequence tags: one random stream per purpose


def stream_seed(*key: int) -> int:
    """A torch seed derived from integers (base seed, model id, purpose, ...): independent streams."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, dtype=np.uint64)[0] % (2**63))


def generator(*key: int) -> torch.Generator:
    return torch.Generator().manual_seed(stream_seed(*key))
