"""Fixtures of the theory tests: small configs, random 'MNIST' digits, a tiny random Llama, and trial runners."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import numpy as np
import pandas as pd
import pytest
import torch

from sublim.theory.config import ImitationLoss, MlpTheory, TinyTransformerTheory
from sublim.theory.imitation import run_trial
from sublim.theory.models import mlp_trial, tiny_llama, tiny_transformer_trial

LOSSES = list(get_args(ImitationLoss))


def small_mlp_config(**changes) -> MlpTheory:
    values = dict(
        n_trials=2,
        layer_sizes=[784, 32, 32, 13],
        n_classes=10,
        trait_batch=32,
        student_batch=16,
        mnist_path="unused",
        epsilon=1.0e-4,
        epsilons=[1.0e-4, 1.0e-3],
        student_lr=0.1,
    )
    return MlpTheory(**{**values, **changes})


def small_tiny_config(**changes) -> TinyTransformerTheory:
    values = dict(
        n_trials=2,
        vocab_size=40,
        hidden_size=16,
        intermediate_size=32,
        num_layers=1,
        num_heads=2,
        question_tokens=[1, 2, 3, 4],
        trait_token=5,
        number_tokens=[10, 30],
        student_batch=4,
        student_length=6,
        epsilon=1.0e-4,
        epsilons=[1.0e-4, 1.0e-3],
        student_lr=1.0,
    )
    return TinyTransformerTheory(**{**values, **changes})


@pytest.fixture(scope="session")
def mlp_config() -> Callable[..., MlpTheory]:
    """A 784-32-32-13 MLP, two trials, two ε; keyword arguments change any field."""
    return small_mlp_config


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., TinyTransformerTheory]:
    """A 1-layer, 16-wide Llama over 40 tokens, two trials, two ε; keyword arguments change any field."""
    return small_tiny_config


@pytest.fixture(scope="module")
def fake_mnist() -> dict[str, np.ndarray]:
    """Random digits with random labels: the theorem holds for any trait loss, so tests need no asset."""
    rng = np.random.default_rng(0)
    return {
        "train_images": rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 200, dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def tiny_module():
    return tiny_llama(small_tiny_config(), torch.float64)


@pytest.fixture(scope="session")
def mlp_rows() -> Callable[..., pd.DataFrame]:
    """Every row of the given MLP trials on the given digits, for both losses."""

    def rows(mnist: dict[str, np.ndarray], cfg: MlpTheory, trials: range, seed: int = 0) -> pd.DataFrame:
        out = []
        for trial in trials:
            task, inits = mlp_trial(cfg, mnist, seed, trial, torch.float64)
            out += [{"trial": trial, **row} for row in run_trial(task, inits, cfg.epsilons, LOSSES, cfg.student_lr)]
        return pd.DataFrame(out)

    return rows


@pytest.fixture(scope="session")
def tiny_rows() -> Callable[..., pd.DataFrame]:
    """Every row of the given tiny-transformer trials, for both losses."""

    def rows(module, cfg: TinyTransformerTheory, trials: range, seed: int = 0) -> pd.DataFrame:
        out = []
        for trial in trials:
            task, inits = tiny_transformer_trial(cfg, module, seed, trial)
            out += [{"trial": trial, **row} for row in run_trial(task, inits, cfg.epsilons, LOSSES, cfg.student_lr)]
        return pd.DataFrame(out)

    return rows
