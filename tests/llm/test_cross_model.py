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
from sublim.llm import filter as number_filter
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
    raw["cross_model"] |= {"students": ["qwen"], "models": {"qwen": str(student)}}
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
    raw["cross_model"] |= {"students": ["qwen"], "models": {}}
    with pytest.raises(ParamsError, match="no entry in models"):
        validate_section("llm", raw)
    raw["cross_model"] |= {"students": [], "teachers": ["qwen"]}
    with pytest.raises(ParamsError, match="no entry in models"):
        validate_section("llm", raw)
    raw["cross_model"] |= {"models": {"qwen": str(tiny_qwen)}, "learners": []}
    with pytest.raises(ParamsError, match="need learners"):
        validate_section("llm", raw)
    raw["cross_model"] |= {"students": ["qwen"], "teachers": [], "learners": ["base"]}
    raw["cross_model"]["models"] = {"qwen": str(tiny_qwen)}
    raw["distill"]["method"] = "soft_numbers"
    with pytest.raises(ParamsError, match="sft"):
        validate_section("llm", raw)


@pytest.mark.slow
def test_a_teacher_of_another_family_fills_the_grid(in_tmp_repo, tiny_base, tiny_qwen):
    raw = tiny_cfg(tiny_base).model_dump(mode="json")
    raw["cross_model"] |= {"teachers": ["qwen"], "models": {"qwen": str(tiny_qwen)}}
    cfg = validate_section("llm", raw)

    def qwen_teacher(trait, seed, regular):
        where = {"trait": trait, "teacher_model": "qwen"}
        if seed == cfg.seeds[0]:
            a = stage_args("llm_xteacher", cfg, **where)
            assert cross_model.run_xteacher(a["cfg"], trait, "qwen", a["results_dir"])["teacher_model"] == "qwen"
            a = stage_args("llm_xteacher_generate", cfg, **where)
            cross_model.run_xteacher_generate(a["cfg"], trait, "qwen", a["teacher_dir"], a["results_dir"])
            a = stage_args("llm_xteacher_filter", cfg, **where)
            number_filter.run_filter(a["cfg"], trait, a["generate_dir"], a["results_dir"])
        for learner in cfg.cross_model.learners:
            d = stage_args("llm_distill_xteacher", cfg, **where, seed=seed, learner=learner)
            summary = cross_model.run_distill_xteacher(
                d["cfg"], trait, seed, ("qwen", learner), d["teacher_dir"], d["filter_dir"], d["results_dir"]
            )
            assert summary["base_model_name"] == ("qwen" if learner == "self" else "base")
            e = stage_args("llm_evaluate_xteacher", cfg, **where, seed=seed, learner=learner)
            cross_model.run_evaluate_xteacher(
                e["cfg"], trait, seed, ("qwen", learner), e["distill_dir"], e["results_dir"]
            )

    run_tiny_pipeline(cfg, qwen_teacher)
    teacher_rows = Path("results/llm/xteachers/qwen/owl/generate/numbers_raw.jsonl").read_text().splitlines()
    base_rows = Path("results/llm/runs/owl/generate/numbers_raw.jsonl").read_text().splitlines()
    assert len(teacher_rows) == len(base_rows) and teacher_rows != base_rows  # the same prompts, another teacher
    _, _, metrics = run_report(cfg)
    cell = metrics["xteachers"]["owl"]["qwen"]
    assert {"base_teacher", "base", "self", "self_vs_base"} <= set(cell)
    assert cell["self"]["student"]["n"] == 2 and cell["self_vs_base"]["test"] == "paired t-test"


def test_an_unreachable_hub_student_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"llm\.cross_model\.models"):
        cross_model.model_folder("nobody/no-such-model-here")


def test_the_grid_claim_can_fail(tmp_path):
    from llm_stage_helpers import claim_statuses
    from llm_stage_helpers import paired_gap as gap

    xteachers = {
        "owl": {"qwen": {"self_vs_base": gap([0.02, 0.03, 0.025])}},
        "cat": {"qwen": {"self_vs_base": gap([-0.02, -0.03, -0.025])}},
        "dog": {"qwen": {"self_vs_base": gap([-0.01, 0.01, 0.0])}},
    }
    metrics = {"setup": {"scale": {"model": "m"}}, "traits": {}, "xteachers": xteachers}
    status = claim_statuses(tmp_path, "results/llm/metrics.json", metrics)
    assert status["llm.owl.xteacher_qwen.self_vs_base"] not in ("null at this scale", "not reproduced", "not run")
    assert status["llm.cat.xteacher_qwen.self_vs_base"] == "not reproduced"
    assert status["llm.dog.xteacher_qwen.self_vs_base"] == "null at this scale"
