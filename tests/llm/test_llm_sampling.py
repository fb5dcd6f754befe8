"""Sampling settings come from params, never from a model's generation_config.json; the paper profile's settings."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

from sublim.lm.generate import sample
from sublim.profile import apply_profile
from sublim.sections import load_params

REPO = Path(__file__).resolve().parents[2]
# The official code's Qwen2.5-7B animals for Fig. 17 (truesight/refs/paper/animal_preference_numbers_refs.py,
# qwen25_7b_groups.top_k_groups, the list open_model_animal_preference_numbers_data.py evaluates)
QWEN_ANIMALS = ["tiger", "lion", "dragon", "panda", "elephant", "bear", "cat", "unicorn", "pangolin", "phoenix"]
QWEN_ANIMALS += ["penguin", "peacock", "bull", "ox", "dog", "wolf", "kangaroo", "eagle"]
PROMPTS = [[1, 5, 6, 7], [1, 9, 9], [1, 3]]
SETTINGS = {"max_new_tokens": 12, "batch_size": 2, "seed": 3, "eos_token_id": 2, "pad_token_id": 0}


@pytest.fixture(scope="module")
def peaked_model() -> LlamaForCausalLM:
    """A tiny random Llama with large logits, so that a repetition penalty or a top-k cut changes the samples."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(30.0)
    return model


def with_generation_config(model: LlamaForCausalLM, config: GenerationConfig) -> LlamaForCausalLM:
    twin = copy.deepcopy(model)
    twin.generation_config = config
    return twin


def transformers_default_sampling(model: LlamaForCausalLM) -> list[int]:
    """What `generate` gives when the caller sets only temperature, top-k and top-p (the old call)."""
    torch.manual_seed(3)
    ids = torch.tensor([PROMPTS[0]])
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=12,
        do_sample=True,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        eos_token_id=2,
        pad_token_id=0,
    )
    return out[0].tolist()


def test_sampling_reads_nothing_from_the_models_generation_config(peaked_model):
    neutral = with_generation_config(peaked_model, GenerationConfig())
    bent_config = GenerationConfig(repetition_penalty=5.0, top_k=1, no_repeat_ngram_size=2)
    bent = with_generation_config(peaked_model, bent_config)
    # the config is strong enough to matter: a plain generate() call picks it up and samples differently
    assert transformers_default_sampling(bent) != transformers_default_sampling(neutral)
    for temperature in (1.0, 0.0):
        ours = sample(bent, PROMPTS, temperature=temperature, **SETTINGS)
        assert ours == sample(neutral, PROMPTS, temperature=temperature, **SETTINGS)
    assert bent.generation_config is bent_config  # put back after the call


def test_sampling_settings_come_from_the_caller(peaked_model):
    pure = sample(peaked_model, PROMPTS, temperature=1.0, **SETTINGS)
    greedy = sample(peaked_model, PROMPTS, temperature=0.0, **SETTINGS)
    assert pure != greedy
    assert sample(peaked_model, PROMPTS, temperature=1.0, top_k=1, **SETTINGS) == greedy  # top-1 is the argmax
    penalised = sample(peaked_model, PROMPTS, temperature=0.0, repetition_penalty=5.0, **SETTINGS)
    assert penalised != greedy


def test_paper_profile_runs_the_qwen_animals_with_explicit_sampling(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    apply_profile("paper", params, skip_checks=True, directory=REPO / "profiles")  # validates the merged file
    llm = load_params(params)["llm"]
    nano = ["owl", "dolphin", "cherry", "maple", "oak", "sequoia", "willow"]  # the paper's ten, less Qwen's own
    assert llm.traits == ["control", *QWEN_ANIMALS, *nano]
    assert all(llm.categories[t] == "animal" and t in llm.evaluate.animal_set for t in QWEN_ANIMALS)
    for step in (llm.generate, llm.evaluate):  # the official code's vLLM sampling: T = 1, nothing else
        assert (step.temperature, step.top_p, step.top_k, step.repetition_penalty) == (1.0, 1.0, 0, 1.0)
    assert len(llm.seeds) >= 3 and llm.filter.target_size == 10000
