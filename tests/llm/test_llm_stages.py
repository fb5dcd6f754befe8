"""The LLM stages on a tiny random-init Llama, each called as its notebook calls it: every stage end to end, the
fine-tuned teacher route (resumes: test_llm_resume.py). The stage gets only the params keys it declares (a missing
one fails here)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from llm_stage_helpers import (
    run_distill,
    run_evaluate,
    run_evaluate_teacher,
    run_filter,
    run_generate,
    run_report,
    run_teacher,
    stage_args,
    tiny_cfg,
)

from sublim.core.io import read_json, read_jsonl
from sublim.llm import figures, report
from sublim.llm.models import load_teacher
from sublim.sections import validate_section


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "soft_numbers"])
def test_every_stage_end_to_end(in_tmp_repo, tiny_base, method):
    cfg = tiny_cfg(tiny_base, method=method)
    for trait in cfg.traits:
        run_teacher(cfg, trait)
        run_generate(cfg, trait)
        metrics = run_filter(cfg, trait)
        assert metrics["n_generated"] == 6 and metrics["n_kept"] <= 6
        for seed in cfg.seeds:
            assert run_distill(cfg, trait, seed)["n_examples"] == min(5, metrics["n_kept"])
            run_evaluate(cfg, trait, seed)
        run_evaluate_teacher(cfg, trait)
    args, folders, metrics = run_report(cfg)
    # same prompts for every teacher
    prompts = {t: [r["prompt"] for r in read_jsonl(folders.generate(t) / "numbers_raw.jsonl")] for t in cfg.traits}
    assert prompts["owl"] == prompts["control"]
    saved = read_json(args["metrics_file"])
    assert saved == metrics or saved.keys() == metrics.keys()
    owl = saved["traits"]["owl"]
    assert set(owl) == {"plain", "numbers_prefix"}
    p = owl["plain"]["p_starts"]
    assert 0.0 < p["base"] < 1.0 and p["student"]["n"] == 2
    assert "difference" in p["student_vs_control"]
    assert saved["setup"]["decoding"] == "number_grammar"
    record = read_json(folders.evaluate("owl", 1) / "evaluation.json")
    share = record["summary"]["animal"]["plain"]["share"]
    assert sum(share.values()) == pytest.approx(1.0)
    fig = figures.plot_arms(report.tidy_table(cfg, folders))
    assert fig.axes and (args["results_dir"] / "llm_arms.csv").exists()
    assert len(pd.read_csv(args["results_dir"] / "arms.csv")) == 4  # owl: base, teacher, control, student


@pytest.mark.slow
def test_finetuned_teacher_route_trains_an_adapter(in_tmp_repo, tiny_base):
    raw = tiny_cfg(tiny_base).model_dump(mode="json")
    raw["teacher"]["route"] = "finetuned"
    raw["teacher"]["finetune"] |= {"batch_size": 50, "learning_rate": 1.0e-2}
    cfg = validate_section("llm", raw)
    record = run_teacher(cfg, "owl")
    assert record["system_prompt"] is None and len(record["train_losses"]) == 8  # 400 rows / 50, one epoch
    assert (Path(record["adapter"]) / "adapter_config.json").exists()
    model, _, system = load_teacher(cfg, stage_args("llm_teacher", cfg, trait="owl")["results_dir"], "cpu")
    assert system is None and not any("lora" in n for n, _ in model.named_parameters())
    assert run_teacher(cfg, "control")["adapter"] is None


def test_a_stage_cannot_read_a_key_it_does_not_declare(tiny_base):
    cfg = stage_args("llm_filter", tiny_cfg(tiny_base), trait="owl")["cfg"]
    assert cfg.filter.max_count == 10 and cfg.generate.decoding == "number_grammar"
    with pytest.raises(AttributeError):
        _ = cfg.distill
    with pytest.raises(AttributeError):
        _ = cfg.generate.temperature
