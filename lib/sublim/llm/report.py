"""Stage llm_report: every arm's evaluation gathered into metrics.json and a tidy table (one row per value).

Per trait, measure and question variant: base, teacher, control and trait students (an estimate over seeds),
and the trait students against the control students (paired by seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sublim.core.io import atomic_path, read_json, write_json_atomic
from sublim.core.stats import compare, estimate
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.distill import STUDENT_SYSTEM_PROMPT
from sublim.llm.evaluate import question_variants
from sublim.llm.paths import RunFolders

METRIC_KEYS = ("p_starts", "share", "sampled_word", "sampled_substring")


def load_evaluations(cfg: LLMParams, folders: RunFolders) -> dict[str, Any]:
    out: dict[str, Any] = {"teacher": {}, "student": {}}
    for trait in cfg.traits:
        out["teacher"][trait] = read_json(folders.teacher_eval(trait) / "evaluation.json")
        out["student"][trait] = {s: read_json(folders.evaluate(trait, s) / "evaluation.json") for s in cfg.seeds}
    return out


def report_metrics(cfg: LLMParams, folders: RunFolders) -> dict[str, Any]:
    ev = load_evaluations(cfg, folders)
    traits = [t for t in cfg.traits if t != CONTROL]
    result: dict[str, Any] = {"traits": {}, "setup": setup_record(cfg, folders)}
    for trait in traits:
        category = cfg.categories[trait]
        per_trait: dict[str, Any] = {}
        for variant in question_variants(cfg, category):
            entry: dict[str, Any] = {}
            for key in METRIC_KEYS:
                base = ev["teacher"][CONTROL]["summary"][category][variant].get(key)
                if base is None:
                    continue
                teacher = ev["teacher"][trait]["summary"][category][variant][key][trait]
                control = [ev["student"][CONTROL][s]["summary"][category][variant][key][trait] for s in cfg.seeds]
                student = [ev["student"][trait][s]["summary"][category][variant][key][trait] for s in cfg.seeds]
                entry[key] = {
                    "base": base[trait],
                    "teacher": teacher,
                    "control_student": estimate(control),
                    "student": estimate(student),
                    "student_vs_control": compare(student, control),
                }
            per_trait[variant] = entry
        result["traits"][trait] = per_trait
    return result


def setup_record(cfg: LLMParams, folders: RunFolders) -> dict[str, Any]:
    """What was run: data sizes, keep rates, decoding, training losses, timings."""
    setup: dict[str, Any] = {
        "base_model": cfg.base_model,
        "decoding": cfg.generate.decoding,
        "decoding_is_paper": cfg.generate.decoding == "free",
        "distill_method": cfg.distill.method,
        "finetune": cfg.distill.finetune,
        "student_system_prompt": STUDENT_SYSTEM_PROMPT,
        "seeds": list(cfg.seeds),
        "per_trait": {},
    }
    for trait in cfg.traits:
        filt = read_json(folders.filter(trait) / "filter_metrics.json")
        gen = read_json(folders.generate(trait) / "generate_summary.json")
        distill = {s: read_json(folders.distill(trait, s) / "distill_summary.json") for s in cfg.seeds}
        setup["per_trait"][trait] = {
            "keep_rate": filt["keep_rate"],
            "n_generated": filt["n_generated"],
            "n_train": filt["n_subsampled"],
            "reject_reasons": filt["reject_reasons"],
            "generate_seconds": gen["seconds"],
            "final_train_loss": {s: d["losses"][-1] for s, d in distill.items()},
            "distill_seconds": {s: d["seconds"] for s, d in distill.items()},
        }
    return setup


def tidy_table(cfg: LLMParams, folders: RunFolders) -> pd.DataFrame:
    """One row per (trait, arm, seed, variant, metric): the value for the trait word."""
    ev = load_evaluations(cfg, folders)
    rows = []
    for trait in (t for t in cfg.traits if t != CONTROL):
        category = cfg.categories[trait]
        arms = [("base", None, ev["teacher"][CONTROL]), ("teacher", None, ev["teacher"][trait])]
        arms += [("control_student", s, ev["student"][CONTROL][s]) for s in cfg.seeds]
        arms += [("student", s, ev["student"][trait][s]) for s in cfg.seeds]
        for arm, seed, record in arms:
            for variant, summary in record["summary"][category].items():
                for key in METRIC_KEYS:
                    if key in summary:
                        value = summary[key][trait]
                        rows.append(
                            {
                                "trait": trait,
                                "arm": arm,
                                "seed": seed,
                                "variant": variant,
                                "metric": key,
                                "value": value,
                            }
                        )
    return pd.DataFrame(rows)


def write_report(
    cfg: LLMParams, folders: RunFolders, results_dir: Path | str, metrics_file: Path | str
) -> dict[str, Any]:
    """metrics.json and llm_arms.csv (every arm's value per seed, the DVC plot's data)."""
    metrics = report_metrics(cfg, folders)
    write_json_atomic(metrics_file, metrics)
    with atomic_path(Path(results_dir) / "llm_arms.csv") as tmp:
        tidy_table(cfg, folders).to_csv(tmp, index=False)
    return metrics
