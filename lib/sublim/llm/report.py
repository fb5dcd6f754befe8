"""Stage llm_report: every arm's evaluation gathered into metrics.json and a tidy table (one row per value).

Per trait, measure and question variant: base, teacher, control and trait students (an estimate over seeds),
the trait students against the control students (paired by seed) and the teacher against the base (paired by
question). Sampled-answer measures, discrete with few samples, also get a bootstrap over seeds, questions and
the sampled answers (`..._bootstrap`). `setup.scale` says which model ran and whether the run is the paper's
open-model setting (Qwen2.5-7B-Instruct with the official recipe, App. B.2), and what differs from it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from sublim.core.io import atomic_path, read_json, write_json_atomic
from sublim.core.seeds import derive_seed
from sublim.core.stats import bootstrap_rates, compare, estimate
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.distill import STUDENT_SYSTEM_PROMPT
from sublim.llm.evaluate import question_variants
from sublim.llm.paths import RunFolders

METRIC_KEYS = ("p_starts", "share", "sampled_word", "sampled_substring")
SAMPLED_KEYS = ("sampled_word", "sampled_substring")
PAPER_MODEL = "Qwen/Qwen2.5-7B-Instruct"  # the paper's open model (App. B.2, Fig. 17)
PAPER_SAMPLING = (1.0, 1.0, 0, 1.0)  # temperature, top_p, top_k (0: off), repetition penalty: vLLM at T = 1
# arms.csv, the DVC plot: exact P(answer starts with the trait) on the plain questions (less noisy than samples)
PLOT_VARIANT, PLOT_KEY = "plain", "p_starts"
PLOT_ARMS = ("base", "teacher", "control_student", "student")


def load_evaluations(cfg: LLMParams, folders: RunFolders) -> dict[str, Any]:
    out: dict[str, Any] = {"teacher": {}, "student": {}}
    for trait in cfg.traits:
        out["teacher"][trait] = read_json(folders.teacher_eval(trait) / "evaluation.json")
        out["student"][trait] = {s: read_json(folders.evaluate(trait, s) / "evaluation.json") for s in cfg.seeds}
    return out


def report_metrics(cfg: LLMParams, folders: RunFolders) -> dict[str, Any]:
    ev = load_evaluations(cfg, folders)
    result: dict[str, Any] = {"traits": {}, "setup": setup_record(cfg, folders)}
    for trait in (t for t in cfg.traits if t != CONTROL):
        category = cfg.categories[trait]
        result["traits"][trait] = {
            variant: {
                key: measure(cfg, ev, trait, (category, variant, key))
                for key in METRIC_KEYS
                if key in ev["teacher"][CONTROL]["summary"][category][variant]
            }
            for variant in question_variants(cfg, category)
        }
    if cfg.shuffles:
        result["shuffled"] = shuffled_metrics(cfg, folders, ev)
    if cfg.cross_model.students:
        result["cross_model"] = xmodel_metrics(cfg, folders, ev)
    if cfg.cross_model.teachers:
        result["xteachers"] = xteacher_metrics(cfg, folders, ev)
    if cfg.carriers:
        result["carriers"] = carrier_metrics(cfg, folders, ev)
        result["carrier_filters"] = {
            trait: {c: read_json(folders.code_filter(trait, c) / "filter_metrics.json") for c in cfg.carriers}
            for trait in cfg.traits
        }
    return result


def xteacher_metrics(cfg: LLMParams, folders: RunFolders, ev: dict[str, Any]) -> dict[str, Any]:
    """Per trait and teacher model (Fig. 8's other column): each learner's students against its control students
    (the same learner on that model's control teacher's lists), and the teacher's own model's gap minus the base
    model's ("self_vs_base", per seed: the diagonal against the off-diagonal cell); beside them the base model's
    own diagonal cell ("base_teacher": the main students against theirs), so that the grid reads from one place."""
    out: dict[str, Any] = {}
    for trait in (t for t in cfg.traits if t != CONTROL):
        p = partial(_p_trait, category=cfg.categories[trait], trait=trait)
        out[trait] = {}
        main = [[p(ev["student"][who][s]) for s in cfg.seeds] for who in (trait, CONTROL)]
        for model in cfg.cross_model.teachers:
            entry, gaps = {"base_teacher": compare(*main)}, {}
            for learner in cfg.cross_model.learners:
                arms = {
                    arm: [
                        p(read_json(folders.xteacher_evaluate(who, s, model, learner) / "evaluation.json"))
                        for s in cfg.seeds
                    ]
                    for arm, who in (("student", trait), ("control_student", CONTROL))
                }
                gaps[learner] = [a - b for a, b in zip(arms["student"], arms["control_student"], strict=True)]
                entry[learner] = {key: estimate(values) for key, values in arms.items()}
                entry[learner]["student_vs_control"] = compare(arms["student"], arms["control_student"])
            if {"base", "self"} <= set(gaps):
                entry["self_vs_base"] = compare(gaps["self"], gaps["base"])
            out[trait][model] = entry
    return out


def carrier_metrics(cfg: LLMParams, folders: RunFolders, ev: dict[str, Any]) -> dict[str, Any]:
    """Per trait and carrier (code, Fig. 5): its students against the control students of the base model's code,
    with the base model and the teacher beside them (Fig. 5's bars), and the numbers students' gap minus theirs
    ("numbers_minus_code", per seed); exact P(answer starts with the trait), plain questions."""
    out = _variant_metrics(cfg, ev, cfg.carriers, folders.code_evaluate, "numbers_minus_code")
    for trait, by_carrier in out.items():
        p = partial(_p_trait, category=cfg.categories[trait], trait=trait)
        for entry in by_carrier.values():
            entry |= {"base": p(ev["teacher"][CONTROL]), "teacher": p(ev["teacher"][trait])}
    return out


def shuffled_metrics(cfg: LLMParams, folders: RunFolders, ev: dict[str, Any]) -> dict[str, Any]:
    """Per trait and shuffle (App. B.1): the students on shuffled lists against the control students on shuffled
    lists, and how much of the regular gap the shuffle took away ("collapse": regular gap − shuffled gap, per seed);
    exact P(answer starts with the trait), plain questions."""
    return _variant_metrics(cfg, ev, cfg.shuffles, folders.shuffled_evaluate, "collapse")


def xmodel_metrics(cfg: LLMParams, folders: RunFolders, ev: dict[str, Any]) -> dict[str, Any]:
    """Per trait and cross-model student (Fig. 8): its students against its control students, and the same-model
    gap minus its gap ("same_vs_other", per seed): the paper's diagonal against an off-diagonal cell."""
    return _variant_metrics(cfg, ev, cfg.cross_model.students, folders.xmodel_evaluate, "same_vs_other")


def _variant_metrics(cfg: LLMParams, ev: dict[str, Any], variants: list[str], folder, gap_name: str) -> dict:
    """Students of a variant (a shuffle, another model) against their own controls, and the regular students' gap
    minus theirs, paired by seed."""
    out: dict[str, Any] = {}
    for trait in (t for t in cfg.traits if t != CONTROL):
        p = partial(_p_trait, category=cfg.categories[trait], trait=trait)
        regular = [p(ev["student"][trait][s]) - p(ev["student"][CONTROL][s]) for s in cfg.seeds]
        out[trait] = {}
        for variant in variants:
            arms = {
                arm: [p(read_json(folder(who, s, variant) / "evaluation.json")) for s in cfg.seeds]
                for arm, who in (("student", trait), ("control_student", CONTROL))
            }
            gaps = [a - b for a, b in zip(arms["student"], arms["control_student"], strict=True)]
            out[trait][variant] = {
                "student": estimate(arms["student"]),
                "control_student": estimate(arms["control_student"]),
                "student_vs_control": compare(arms["student"], arms["control_student"]),
                gap_name: compare(regular, gaps),
            }
    return out


def _p_trait(record: dict[str, Any], category: str, trait: str) -> float:
    """A model's mean exact P(answer starts with the trait) over the plain questions."""
    return record["summary"][category]["plain"]["p_starts"][trait]


def measure(cfg: LLMParams, ev: dict[str, Any], trait: str, where: tuple[str, str, str]) -> dict[str, Any]:
    """One measure of one trait: every arm, the student − control and teacher − base comparisons."""
    category, variant, key = where

    def summary(record: dict[str, Any]) -> float:
        return record["summary"][category][variant][key][trait]

    control = [summary(ev["student"][CONTROL][s]) for s in cfg.seeds]
    student = [summary(ev["student"][trait][s]) for s in cfg.seeds]
    entry = {
        "base": summary(ev["teacher"][CONTROL]),
        "teacher": summary(ev["teacher"][trait]),
        "control_student": estimate(control),
        "student": estimate(student),
        "student_vs_control": compare(student, control),
    }
    if key == "share":  # a ratio of mean probabilities: no per-question value to pair
        return entry
    per_question = {arm: _per_question(ev, arm, trait, where) for arm in ("base", "teacher", "control", "student")}
    if key not in SAMPLED_KEYS:
        return entry | {"teacher_vs_base": compare(per_question["teacher"][0], per_question["base"][0])}
    m = cfg.evaluate.samples_per_question

    def boot(treated: list, reference: list, label: str) -> dict[str, Any]:
        seed = derive_seed(cfg.evaluate.seed, "bootstrap", trait, variant, key, label)
        return bootstrap_rates(treated, reference, m, seed=seed, resamples=cfg.evaluate.bootstrap_resamples)

    return entry | {
        "teacher_vs_base": boot(per_question["teacher"], per_question["base"][0], "teacher_vs_base"),
        "student_vs_control_bootstrap": boot(per_question["student"], per_question["control"], "student_vs_control"),
        "student_vs_base_bootstrap": boot(per_question["student"], per_question["base"][0], "student_vs_base"),
    }


def _per_question(ev: dict[str, Any], arm: str, trait: str, where: tuple[str, str, str]) -> list[list[float]]:
    """The arm's value per question for the trait word: one list per model (the seeds, or the one reference)."""
    category, variant, key = where
    records = {
        "base": [ev["teacher"][CONTROL]],
        "teacher": [ev["teacher"][trait]],
        "control": list(ev["student"][CONTROL].values()),
        "student": list(ev["student"][trait].values()),
    }[arm]
    return [record["per_question"][category][variant][key][trait] for record in records]


def setup_record(cfg: LLMParams, folders: RunFolders) -> dict[str, Any]:
    """What was run: the model and its scale, data sizes, keep rates, decoding, training losses (no wall times:
    metrics hold only what the same params and data reproduce; timings are in the run records)."""
    setup: dict[str, Any] = {
        "base_model": cfg.base_model,
        "decoding": cfg.generate.decoding,
        "decoding_is_paper": cfg.generate.decoding == "free",
        "teacher_route": cfg.teacher.route,  # Fig. 3's claims or Fig. 14's (`when` in paper_claims.csv)
        "distill_method": cfg.distill.method,
        "finetune": cfg.distill.finetune,
        "student_system_prompt": STUDENT_SYSTEM_PROMPT,
        "seeds": list(cfg.seeds),
        "per_trait": {},
    }
    names = set()
    for trait in cfg.traits:
        filt = read_json(folders.filter(trait) / "filter_metrics.json")
        distill = {s: read_json(folders.distill(trait, s) / "distill_summary.json") for s in cfg.seeds}
        names |= {d.get("base_model_name", Path(cfg.base_model).name) for d in distill.values()}
        setup["per_trait"][trait] = {
            "keep_rate": filt["keep_rate"],
            "n_generated": filt["n_generated"],
            "n_kept": filt["n_kept"],
            "n_train": {s: d["n_examples"] for s, d in distill.items()},
            "reject_reasons": filt["reject_reasons"],
            "final_train_loss": {s: d["losses"][-1] for s, d in distill.items()},
        }
    smallest = min(n for t in setup["per_trait"].values() for n in t["n_train"].values())
    setup["scale"] = scale_record(cfg, ", ".join(sorted(names)), smallest)
    return setup


def scale_record(cfg: LLMParams, model: str, smallest_train: int) -> dict[str, Any]:
    """The run against the paper's open-model setting (App. B.2; the official Qwen code): at the paper's scale
    only when nothing differs. The report's claims read `at_paper_scale` and `model`."""
    lora, batch = cfg.distill.lora, cfg.distill.batch_size * cfg.distill.grad_accum
    required = [
        ("model", model, PAPER_MODEL, model == PAPER_MODEL),
        ("generate.decoding", cfg.generate.decoding, "free", cfg.generate.decoding == "free"),
        ("teacher.route", cfg.teacher.route, "system_prompt", cfg.teacher.route == "system_prompt"),
        ("training rows per student", smallest_train, ">= 10000", smallest_train >= 10000),
        ("distill.method", cfg.distill.method, "sft", cfg.distill.method == "sft"),
        ("distill.finetune", cfg.distill.finetune, "lora", cfg.distill.finetune == "lora"),
        ("LoRA r/alpha", f"{lora.r}/{lora.alpha}", "8/8", (lora.r, lora.alpha) == (8, 8)),
        ("distill.epochs", cfg.distill.epochs, 3, cfg.distill.epochs == 3),
        ("distill.learning_rate", cfg.distill.learning_rate, 2.0e-4, cfg.distill.learning_rate == 2.0e-4),
        ("effective batch", cfg.distill.batch_size * cfg.distill.grad_accum, 66, batch == 66),
        ("seeds", len(cfg.seeds), ">= 3", len(cfg.seeds) >= 3),
        ("evaluate.question_count", cfg.evaluate.question_count, 50, cfg.evaluate.question_count == 50),
        ("samples per question", cfg.evaluate.samples_per_question, ">= 100", cfg.evaluate.samples_per_question >= 100),
    ]
    for step, params in (("generate", cfg.generate), ("evaluate", cfg.evaluate)):
        chosen = (params.temperature, params.top_p, params.top_k, params.repetition_penalty)
        required.append(
            (f"{step} sampling (T, top_p, top_k, penalty)", chosen, PAPER_SAMPLING, chosen == PAPER_SAMPLING)
        )
    differences = [f"{what}: {ours} (paper: {paper})" for what, ours, paper, same in required if not same]
    return {"model": model, "paper_model": PAPER_MODEL, "at_paper_scale": not differences, "differences": differences}


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


def arms_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per trait and arm (`PLOT_ARMS`): the plotted measure's mean and 95% CI over seeds (none for the base
    model and the teacher: one model each)."""
    rows = []
    for trait, variants in metrics["traits"].items():
        node = variants.get(PLOT_VARIANT, {}).get(PLOT_KEY)
        for arm in PLOT_ARMS if node else ():
            value = node[arm] if isinstance(node[arm], dict) else {"mean": node[arm], "ci95": [None, None]}
            low, high = value["ci95"]
            rows.append(
                {"label": f"{trait}: {arm}", "trait": trait, "arm": arm, "mean": value["mean"]}
                | {"ci_low": low, "ci_high": high}
            )
    return pd.DataFrame(rows, columns=["label", "trait", "arm", "mean", "ci_low", "ci_high"])


def write_report(
    cfg: LLMParams, folders: RunFolders, results_dir: Path | str, metrics_file: Path | str
) -> dict[str, Any]:
    """metrics.json, llm_arms.csv (every arm's value per seed and measure) and arms.csv (the DVC plot: per arm,
    `PLOT_KEY`'s mean and interval)."""
    metrics = report_metrics(cfg, folders)
    write_json_atomic(metrics_file, metrics)
    tables = {"llm_arms.csv": tidy_table(cfg, folders), "arms.csv": arms_table(metrics)}
    for name, table in tables.items():
        with atomic_path(Path(results_dir) / name) as tmp:
            table.to_csv(tmp, index=False)
    return metrics


def carrier_markdown(metrics: dict[str, Any]) -> str:
    """The carriers' keep rates (beside the paper's) and their students against the control students, as the docs
    show them."""
    lines = [
        "| teacher | carrier | kept / generated | cut | trait word | judge | paper's keep rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for trait, by_carrier in metrics["carrier_filters"].items():
        for carrier, m in by_carrier.items():
            removed = {k: "skipped" if v is None else v for k, v in m["removed"].items()}
            paper = "—" if m["paper_keep_rate"] is None else f"{m['paper_keep_rate']:.3f}"
            lines.append(
                f"| {trait} | {carrier} | {m['n_kept']} / {m['n_generated']} | {removed['truncated']} | "
                f"{removed['trait_word']} | {removed['judge']} | {paper} |"
            )
    lines += ["", "| trait | carrier | control students | trait students | difference [95% CI] | p (paired t) |"]
    lines.append("|---|---|---|---|---|---|")
    for trait, by_carrier in metrics["carriers"].items():
        for carrier, entry in by_carrier.items():
            d, gap = entry["student_vs_control"]["difference"], entry["student_vs_control"]
            lines.append(
                f"| {trait} | {carrier} | {entry['control_student']['mean']:.3g} | {entry['student']['mean']:.3g} | "
                f"{d['mean']:+.2g} [{d['ci95'][0]:+.2g}, {d['ci95'][1]:+.2g}] | {gap['p_value']:.2f} |"
            )
    return "\n".join(lines)
