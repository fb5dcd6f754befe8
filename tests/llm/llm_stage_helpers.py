"""Helpers of the LLM tests: a small `llm` section, and each stage's arguments as its notebook builds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.llm import distill, evaluate, generate, report, teacher
from sublim.llm import filter as number_filter
from sublim.llm.paths import RunFolders
from sublim.run import stage_values
from sublim.sections import load_section, section_from_namespace, validate_section
from sublim.stages import STAGES, fill

REPO = Path(__file__).resolve().parents[2]


def tiny_cfg(base: Path, **distill: Any):
    raw = load_section("llm", REPO / "params.yaml").model_dump(mode="json")
    raw["base_model"] = str(base)
    raw["device"] = "cpu"
    raw["seeds"] = [1, 2]
    raw["prompts"]["count"] = 6
    raw["generate"] |= {"batch_size": 4, "max_new_tokens": 50, "temperature": 1.0}  # the paper's sampled lists and
    raw["teacher"]["route"] = "system_prompt"  # teacher (the CPU default's fine-tuned one: test_llm_stages)
    raw["filter"]["target_size"] = 5
    raw["distill"] |= {"epochs": 2, "batch_size": 2, "checkpoint_every": 1, **distill}
    raw["evaluate"] |= {"question_count": 2, "samples_per_question": 2, "max_new_tokens": 3, "batch_size": 8}
    raw["evaluate"]["numbers_prefix"] = True  # both question variants (the CPU default runs the plain one)
    raw["in_context"]["n_examples"] = [1, 2]  # the tiny model holds 512 positions
    return validate_section("llm", raw)


def stage_args(name: str, cfg, **matrix: Any) -> dict[str, Any]:
    """What the stage's notebook holds: the section restricted to the stage's keys (as `cfg`), its folders."""
    stage = STAGES[name]
    namespace = {**stage_values(stage, cfg), **matrix}
    return {
        "cfg": section_from_namespace("llm", namespace),
        "results_dir": Path(fill(stage.results_dir, matrix)),
        **{key: Path(path) if "{" not in path else path for key, path in stage.paths(matrix).items()},
    }


# each stage's function called as its notebook calls it
def run_teacher(cfg, trait):
    a = stage_args("llm_teacher", cfg, trait=trait)
    return teacher.run_teacher(a["cfg"], trait, a["results_dir"])


def run_generate(cfg, trait):
    a = stage_args("llm_generate", cfg, trait=trait)
    return generate.run_generate(a["cfg"], trait, a["teacher_dir"], a["results_dir"])


def run_filter(cfg, trait):
    a = stage_args("llm_filter", cfg, trait=trait)
    return number_filter.run_filter(a["cfg"], trait, a["generate_dir"], a["results_dir"])


def run_distill(cfg, trait, seed, results_dir=None):
    a = stage_args("llm_distill", cfg, trait=trait, seed=seed)
    return distill.run_distill(
        a["cfg"], trait, seed, a["teacher_dir"], a["filter_dir"], results_dir or a["results_dir"]
    )


def run_evaluate(cfg, trait, seed):
    a = stage_args("llm_evaluate", cfg, trait=trait, seed=seed)
    return evaluate.run_evaluate_student(a["cfg"], trait, seed, a["distill_dir"], a["results_dir"])


def run_evaluate_teacher(cfg, trait):
    a = stage_args("llm_evaluate_teacher", cfg, trait=trait)
    return evaluate.run_evaluate_teacher(a["cfg"], trait, a["teacher_dir"], a["results_dir"])


def run_distill_shuffled(cfg, trait, seed, shuffle):
    a = stage_args("llm_distill_shuffled", cfg, trait=trait, seed=seed, shuffle=shuffle)
    return distill.run_distill(
        a["cfg"], trait, seed, a["teacher_dir"], a["filter_dir"], a["results_dir"], shuffle=shuffle
    )


def run_evaluate_shuffled(cfg, trait, seed, shuffle):
    a = stage_args("llm_evaluate_shuffled", cfg, trait=trait, seed=seed, shuffle=shuffle)
    return evaluate.run_evaluate_student(a["cfg"], trait, seed, a["distill_dir"], a["results_dir"])


def run_code_teacher_side(cfg, trait, carrier="code"):
    """Stages llm_code_generate and llm_code_filter of one teacher: the filter's metrics."""
    from sublim.llm.code_carrier import stages as code

    a = stage_args("llm_code_generate", cfg, trait=trait, carrier=carrier)
    code.run_code_generate(a["cfg"], trait, a["teacher_dir"], a["results_dir"])
    a = stage_args("llm_code_filter", cfg, trait=trait, carrier=carrier)
    return code.run_code_filter(a["cfg"], trait, a["generate_dir"], a["results_dir"])


def run_code_student(cfg, trait, seed, carrier="code"):
    """Stages llm_distill_code and llm_evaluate_code of one student: its distill summary."""
    from sublim.llm.code_carrier import stages as code

    a = stage_args("llm_distill_code", cfg, trait=trait, seed=seed, carrier=carrier)
    summary = code.run_code_distill(a["cfg"], trait, seed, a["teacher_dir"], a["filter_dir"], a["results_dir"])
    a = stage_args("llm_evaluate_code", cfg, trait=trait, seed=seed, carrier=carrier)
    evaluate.run_evaluate_student(a["cfg"], trait, seed, a["distill_dir"], a["results_dir"])
    return summary


def run_tiny_pipeline(cfg, per_seed=None):
    """Every stage before the report, per trait (and seed), as `dvc repro` orders them; `per_seed(trait, seed,
    distill_summary)` runs after each regular student (a variant's students)."""
    for trait in cfg.traits:
        run_teacher(cfg, trait)
        run_generate(cfg, trait)
        run_filter(cfg, trait)
        run_evaluate_teacher(cfg, trait)
        for seed in cfg.seeds:
            summary = run_distill(cfg, trait, seed)
            run_evaluate(cfg, trait, seed)
            if per_seed is not None:
                per_seed(trait, seed, summary)


def run_report(cfg):
    a = stage_args("llm_report", cfg)
    folders = RunFolders(
        *(
            a[k]
            for k in (
                "generate_dir",
                "filter_dir",
                "distill_dir",
                "teacher_eval_dir",
                "evaluate_dir",
                "shuffled_evaluate_dir",
                "xmodel_evaluate_dir",
                "code_filter_dir",
                "code_evaluate_dir",
                "xteacher_evaluate_dir",
            )
        )
    )
    return a, folders, report.write_report(a["cfg"], folders, a["results_dir"], a["metrics_file"])


def claim_statuses(root: Path, metrics_file: str, metrics: dict[str, Any]) -> dict[str, str]:
    """Each claim row's status when `metrics` is the file `metrics_file` under `root` (the must-fail tests)."""
    from sublim.core.io import write_json_atomic
    from sublim.report.claims import claim_rows

    write_json_atomic(root / metrics_file, metrics)
    data = REPO / "lib/sublim/data"
    return {r["claim_id"]: r["status"] for r in claim_rows(data / "paper_claims.csv", data / "paper_values.csv", root)}


def paired_gap(values: list[float]) -> dict[str, Any]:
    """A paired comparison whose per-seed differences are `values`."""
    from sublim.core.stats import compare

    return compare([0.5 + v for v in values], [0.5] * len(values), paired=True)
