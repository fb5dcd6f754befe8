"""Fixtures of the LLM tests: a tiny random-init Llama with SmolLM2's tokenizer, and a runner that calls each
stage's function the way its notebook does (with only the params keys the stage declares).

Needs the tokenizer of the offline asset (results/assets/llm, made by `make assets`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

REPO = Path(__file__).resolve().parents[2]
ASSET = REPO / "results" / "assets" / "llm"


@pytest.fixture(scope="module")
def tokenizer():
    if not (ASSET / "tokenizer.json").exists():
        pytest.fail(f"{ASSET}: the base model asset is missing; run `make assets`")
    return AutoTokenizer.from_pretrained(str(ASSET))


@pytest.fixture
def tiny_base(tmp_path, tokenizer) -> Path:
    """A tiny random-init Llama with the real tokenizer, saved as a local transformers folder."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    folder = tmp_path / "base"
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
