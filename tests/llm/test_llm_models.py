"""Saving the LLM experiment's models (sublim.llm.models.save_model): the same adapter gives the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from sublim.llm.models import save_model
from sublim.lm.train import LoraSettings, attach_lora

LIB = Path(__file__).resolve().parents[2] / "lib"
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# one save of the same seeded LoRA adapter on a tiny random-init Llama, into argv[1]
SAVE = f"""
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from sublim.llm.models import save_model
from sublim.lm.train import LoraSettings, attach_lora

torch.manual_seed(0)
config = LlamaConfig(
    vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
    num_key_value_heads=1,
)
lora = LoraSettings(r=2, alpha=2, dropout=0.0, target_modules={MODULES!r})
save_model(attach_lora(LlamaForCausalLM(config), lora), Path(sys.argv[1]))
"""


class SortedSet(set):
    def __iter__(self):
        return iter(sorted(super().__iter__()))


class ReversedSet(set):
    def __iter__(self):
        return iter(sorted(super().__iter__(), reverse=True))


def tiny_adapter():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=40,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    return attach_lora(LlamaForCausalLM(config), LoraSettings(r=2, alpha=2, dropout=0.0, target_modules=MODULES))


def test_the_adapter_config_does_not_depend_on_set_order(tmp_path):
    """Two iteration orders of the same target_modules set (as two hash seeds give) save the same bytes."""
    model = tiny_adapter()
    saved = []
    for order in (ReversedSet, SortedSet):
        model.peft_config["default"].target_modules = order(MODULES)
        save_model(model, tmp_path / order.__name__)
        saved.append((tmp_path / order.__name__ / "adapter_config.json").read_bytes())
    assert saved[0] == saved[1]
    assert json.loads(saved[0])["target_modules"] == sorted(MODULES)


@pytest.mark.slow
def test_two_saves_of_the_same_adapter_are_byte_identical(tmp_path):
    """peft writes target_modules in set order, which follows Python's hash seed: save in two processes."""
    env = {**os.environ, "PYTHONPATH": str(LIB)}
    folders = [tmp_path / f"hash_seed_{seed}" for seed in (1, 2)]
    saves = [
        subprocess.Popen([sys.executable, "-c", SAVE, str(folder)], env={**env, "PYTHONHASHSEED": str(seed)})
        for seed, folder in zip((1, 2), folders, strict=True)
    ]
    assert [save.wait() for save in saves] == [0, 0]
    first, second = ({p.name: p.read_bytes() for p in folder.iterdir()} for folder in folders)
    assert "adapter_config.json" in first and first == second
    config = json.loads(first["adapter_config.json"])
    assert config["target_modules"] == sorted(MODULES)


def test_lora_on_gpt2_conv1d_layers_says_fan_in_fan_out_and_warns_nothing(recwarn):
    from transformers import GPT2Config, GPT2LMHeadModel

    from sublim.lm.lora import targets_conv1d

    config = GPT2Config(vocab_size=20, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    model = GPT2LMHeadModel(config)
    assert targets_conv1d(model, ["c_attn", "c_fc"]) and not targets_conv1d(model, ["lm_head"])
    attach_lora(model, LoraSettings(r=2, alpha=2, dropout=0.0, target_modules=["c_attn", "c_proj", "c_fc"]))
    assert not [
        str(w.message) for w in recwarn if "fan_in_fan_out" in str(w.message) or "checkpointing" in str(w.message)
    ]


def test_loading_a_model_prints_no_progress_bar(tiny_base, capfd):
    """transformers' loading bar prints a speed (it/s) into the executed notebooks, which must be byte-stable."""
    from transformers.utils import logging as hf_logging

    from sublim.lm.models import load_causal_lm

    hf_logging.enable_progress_bar()
    load_causal_lm(tiny_base)
    captured = capfd.readouterr()
    assert "it/s" not in captured.err + captured.out and "Loading weights" not in captured.err + captured.out
    assert hf_logging.is_progress_bar_enabled()  # restored after the load


def test_the_first_cell_silences_only_tqdms_missing_widgets_warning():
    import warnings

    from sublim.core.runtime import quiet_tqdm_widgets

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_tqdm_widgets()
        message = "IProgress not found. Please update jupyter and ipywidgets."
        warnings.warn_explicit(message, UserWarning, "auto.py", 21, module="tqdm.auto")
        warnings.warn("another warning", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["another warning"]
