"""The tags of the MNIST experiment's random streams: `torch_generator(seed, model_id, INIT_TAG)` and so on.

A model's init, its aux columns, the noise images and the perturbations each draw from their own stream,
so no draw depends on how many models (or aux logits) a run has.
"""

from __future__ import annotations

INIT_TAG, AUX_TAG, NOISE_TAG = 0, 1, 2  # seed-sequence tags: one random stream per purpose
