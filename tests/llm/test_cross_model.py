"""The cross-model control (Fig. 8) as a plumbing test: a tiny random-init Llama as the teachers' base and a tiny
random-init Qwen2 as another student base (both with SmolLM2's tokenizer), through every stage and the report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from llm_stage_helpers import run_report, run_tiny_pipeline, stage_args, tiny_cfg
from transformers import Qwen2Config, Qwen2ForCausalLM

from sublim.core.params import ParamsError
from sublim.llm import cross_model
from sublim.sections import validate_section


@pytest.fixture
def tiny_qwen(tmp_path, tokenizer) -> Path:
    torch.manual_seed(1)
    config = Qwen2Config(
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
    folder = tmp_path / "qwen"
    Qwen2ForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def xmodel_cfg(base: Path, student: Path):
    raw = tiny_cfg(base).model_dump(mode="json")
    raw["cross_model"] = {"students": ["qwen"], "models": {"qwen": str(student)}}
    return validate_section("llm", raw)


@pytest.mark.slow
def test_a_student_of_another_family_end_to_end_and_in_the_report(in_tmp_repo, tiny_base, tiny_qwen):
    cfg = xmodel_cfg(tiny_base, tiny_qwen)

    def qwen_students(trait, seed, regular):
        d = stage_args("llm_distill_xmodel", cfg, trait=trait, seed=seed, student="qwen")
        summary = cross_model.run_distill_xmodel(
            d["cfg"], trait, seed, "qwen", d["teacher_dir"], d["filter_dir"], d["results_dir"]
        )
        assert summary["student_model"] == "qwen" and summary["base_model_name"] == "qwen"
        assert summary["n_examples"] == regular["n_examples"]
        e = stage_args("llm_evaluate_xmodel", cfg, trait=trait, seed=seed, student="qwen")
        cross_model.run_evaluate_xmodel(e["cfg"], trait, seed, "qwen", e["distill_dir"], e["results_dir"])

    run_tiny_pipeline(cfg, qwen_students)
    d = stage_args("llm_distill_xmodel", cfg, trait="owl", seed=cfg.seeds[-1], student="qwen")
    adapter = d["results_dir"] / "student" / "adapter_config.json"
    assert str(tiny_qwen) in adapter.read_text()  # the adapter sits on the Qwen2 base
    _, _, metrics = run_report(cfg)
    cell = metrics["cross_model"]["owl"]["qwen"]
    assert cell["student"]["n"] == 2 and cell["same_vs_other"]["test"] == "paired t-test"


def test_a_student_without_a_model_and_soft_labels_across_models_are_refused(tiny_base, tiny_qwen):
    raw = tiny_cfg(tiny_base).model_dump(mode="json")
    raw["cross_model"] = {"students": ["qwen"], "models": {}}
    with pytest.raises(ParamsError, match="no entry in models"):
        validate_section("llm", raw)
    raw["cross_model"]["models"] = {"qwen": str(tiny_qwen)}
    raw["distill"]["method"] = "soft_numbers"
    with pytest.raises(ParamsError, match="sft"):
        validate_section("llm", raw)


def test_an_unreachable_hub_student_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"llm\.cross_model\.models"):
        cross_model.model_folder("nobody/no-such-model-here")
