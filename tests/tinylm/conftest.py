"""Fixtures of the tiny-LM tests: params.yaml's `tinylm` block, and that block shrunk to run in seconds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from sublim.sections import validate_section
from sublim.tinylm.config import TinyLMParams


@pytest.fixture
def tinylm_block(repo_root: Path) -> dict:
    """The `tinylm` section of params.yaml as plain values (read directly: the other sections play no part)."""
    return yaml.safe_load((repo_root / "params.yaml").read_text())["tinylm"]


@pytest.fixture
def tiny_cfg(tinylm_block: dict) -> TinyLMParams:
    """params.yaml's block shrunk: 1-layer d=32 model, 2 seeds, 2 traits, a few hundred samples."""
    raw = copy.deepcopy(tinylm_block)
    raw.update(seeds=[0, 1], traits=["owl", "cat"])
    raw["model"].update(n_layer=1, d_model=32, n_head=2)
    raw["pretrain"].update(steps=150, batch_size=64, learning_rate=1.0e-2, warmup_steps=10)
    raw["teacher"].update(steps=10)
    raw["numbers"].update(n_samples=300, batch_size=300)
    raw["student"].update(batch_size=32)
    raw["controls"].update(data_volumes=[100], lora_ranks=[2])
    raw["in_context"].update(sequences_per_document=3, n_samples=300, n_contexts=20)
    raw["in_context"]["continue_pretraining"].update(steps=30, batch_size=64, warmup_steps=3)
    raw["grid"]["model"].update(n_layer=1, d_model=16, n_head=2)
    raw["code_carrier"].update(n_samples=300)
    raw["misalignment"].update(n_samples=300)
    # sums a tiny model gets right often enough to keep some
    raw["reasoning_carrier"].update(max_operand=1, n_samples=200)
    further = {"steps": 100, "batch_size": 64, "learning_rate": 1.0e-2, "warmup_steps": 3}
    raw["carrier_base"]["continue_pretraining"].update(further)
    raw["reasoning_carrier"]["continue_pretraining"].update(further)
    raw["evaluation"].update(n_sampled_answers=50)
    return validate_section("tinylm", raw)
