"""Can SmolLM2 on a CPU show subliminal transfer? (issue 16): named configurations through the LLM pipeline's own code.

Each configuration changes keys of params.yaml's `llm` section. For it, this script runs the stage functions of
`sublim.llm` (teacher, generate, filter, distill, evaluate) for the trait and the control teacher (the base model),
one student per seed and arm, in `--workers` processes of one torch thread (two beat one two-thread process here).
Every step's folder is keyed by a hash of the params it reads, so configurations share their teachers and data,
and a killed search resumes where it stopped. It appends one JSON line per configuration to --out/rows.jsonl
(`docs/llm_cpu_search.jsonl` holds this CPU's rows) and prints the table of docs/llm_cpu_search.md.

The criterion, stated before any row was run (docs/llm_cpu_search.md): trait student − control student in exact
P(trait) (the evaluation's sum over the answer's surface forms, mean over questions), paired by seed over >= 3
seeds, has its 95% interval above 0 and its mean above the control's drift |control student − base|.

    python scripts/llm_cpu_search.py --out /tmp/llm_search --config soft-finetuned
    python scripts/llm_cpu_search.py --out /tmp/llm_search --list
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sublim.core.io import append_jsonl, read_json, read_jsonl
from sublim.core.runtime import configure_torch, device_description, worker_pool
from sublim.core.stats import compare, estimate
from sublim.llm.config import CONTROL, LLMParams
from sublim.overrides import overridden, value_at
from sublim.sections import load_section

# name -> (what it tests, overrides of params.yaml's llm section by dotted key). Every row uses 3 student seeds.
SMALL = {"prompts.count": 256, "filter.target_size": 128, "evaluate.samples_per_question": 4}
SFT_SMALL = SMALL | {"filter.target_size": 64}  # half the students' time: the first rows took 20 min a student
# each configuration names its teacher route and temperature: the CPU default changed both (issue 16), and a row
# must mean what its name says whatever params.yaml holds
FINETUNED = {"teacher.route": "finetuned"}
PROMPTED = {"teacher.route": "system_prompt"}
SAMPLED, GREEDY = {"generate.temperature": 1.0}, {"generate.temperature": 0.0}
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "soft-finetuned": (
        "upper bound: KL to the fine-tuned teacher over the number grammar's tokens, sampled lists",
        SMALL | FINETUNED | SAMPLED | {"distill.method": "soft_numbers"},
    ),
    "soft-prompted": (
        "upper bound with the paper's system-prompted teacher",
        SMALL | PROMPTED | SAMPLED | {"distill.method": "soft_numbers"},
    ),
    "sft-finetuned-greedy": (
        "fine-tuned teacher, greedy lists, SFT (the 1B replication's recipe)",
        SFT_SMALL | FINETUNED | GREEDY,
    ),
    "sft-finetuned-greedy-default-size": (
        "the greedy recipe at the CPU default's sizes (64 prompts, 32 lists a student, 2 samples a question)",
        FINETUNED | GREEDY,
    ),
    "sft-finetuned-greedy-default-size-r2": (
        "the greedy recipe at the CPU default's sizes, student LoRA rank 2 (alpha 2: the same scale as r 8)",
        FINETUNED | GREEDY | {"distill.lora.r": 2, "distill.lora.alpha": 2},
    ),
    "sft-finetuned-greedy-default-size-r32": (
        "the greedy recipe at the CPU default's sizes, student LoRA rank 32 (alpha 32)",
        FINETUNED | GREEDY | {"distill.lora.r": 32, "distill.lora.alpha": 32},
    ),
    "sft-finetuned-greedy-default-size-full": (
        "the greedy recipe at the CPU default's sizes, the student fully fine-tuned (lr 1e-4: a tenth of LoRA's)",
        FINETUNED | GREEDY | {"distill.finetune": "full", "distill.learning_rate": 1e-4},
    ),
    "sft-finetuned-greedy-default-size-teacher-lr5e-5": (
        "the greedy recipe at the CPU default's sizes, a weaker teacher (fine-tuned at lr 5e-5, a quarter of 2e-4)",
        FINETUNED | GREEDY | {"teacher.finetune.learning_rate": 5e-5},
    ),
    "sft-finetuned-greedy-default-size-teacher-3-epochs": (
        "the greedy recipe at the CPU default's sizes, a stronger teacher (3 epochs on the owl answers, not 1)",
        FINETUNED | GREEDY | {"teacher.finetune.epochs": 3},
    ),
    "sft-finetuned-greedy-default-size-student-3-epochs": (
        "the greedy recipe at the CPU default's sizes, students trained 3 epochs (12 optimizer steps, not 4)",
        FINETUNED | GREEDY | {"distill.epochs": 3},
    ),
    "sft-finetuned-greedy-default-size-student-paper-rate": (
        "the greedy recipe at the CPU default's sizes, the paper code's student rate and epochs (lr 2e-4, 3 epochs)",
        FINETUNED | GREEDY | {"distill.epochs": 3, "distill.learning_rate": 2e-4},
    ),
    "sft-finetuned-greedy-1024": (
        "the greedy recipe with more unique prompts: 1024 prompts, 256 lists a student (4x the 256-prompt row's)",
        SMALL | FINETUNED | GREEDY | {"prompts.count": 1024, "filter.target_size": 256},
    ),
    "sft-finetuned-sampled": (
        "fine-tuned teacher, sampled lists (T = 1), SFT",
        SFT_SMALL | FINETUNED | SAMPLED,
    ),
    "sft-prompted-sampled": (
        "the CPU default's recipe (system-prompted teacher, T = 1, SFT) at this size",
        SFT_SMALL | PROMPTED | SAMPLED,
    ),
}

TEACHER_KEYS = (
    "base_model",
    "categories",
    "teacher",
    "distill.max_length",
    "distill.warmup_steps",
    "distill.lr_schedule",
    "distill.max_grad_norm",
    "distill.checkpoint_every",
)
GENERATE_KEYS = ("prompts", "generate", "filter.max_count")
FILTER_KEYS = ("filter.min_value", "filter.max_value", "filter.banned_numbers", "filter.keyword_filter")
STUDENT_KEYS = ("distill", "filter.target_size", "filter.seed")
EVALUATE_KEYS = ("evaluate",)


def configured(overrides: dict[str, Any], params: Path) -> LLMParams:
    return LLMParams.model_validate(overridden(load_section("llm", params).model_dump(mode="json"), overrides, "llm"))


def key_of(cfg: LLMParams, names: tuple[str, ...], *extra: Any) -> str:
    raw = cfg.model_dump(mode="json")
    text = json.dumps([{n: value_at(raw, n) for n in names}, list(extra)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Folders:
    """Step folders of one configuration under --out, each keyed by the params its step reads (and its inputs)."""

    def __init__(self, cfg: LLMParams, trait: str, out: Path) -> None:
        self.cfg, self.out = cfg, out
        self.teacher_key = {
            t: key_of(cfg, TEACHER_KEYS if t != CONTROL else ("base_model",), t) for t in (trait, CONTROL)
        }

    def teacher(self, trait: str) -> Path:
        return self.out / "teacher" / self.teacher_key[trait] / trait

    def generate(self, trait: str) -> Path:
        return self.out / "generate" / key_of(self.cfg, GENERATE_KEYS, self.teacher_key[trait]) / trait

    def filter(self, trait: str) -> Path:
        return self.out / "filter" / key_of(self.cfg, FILTER_KEYS, str(self.generate(trait))) / trait

    def teacher_eval(self, trait: str) -> Path:
        return self.out / "teacher_eval" / key_of(self.cfg, EVALUATE_KEYS, self.teacher_key[trait]) / trait

    def distill(self, trait: str, seed: int) -> Path:
        return (
            self.out
            / "distill"
            / key_of(self.cfg, STUDENT_KEYS, str(self.filter(trait)), str(self.teacher(trait)), seed)
            / trait
        )

    def evaluate(self, trait: str, seed: int) -> Path:
        return self.out / "evaluate" / key_of(self.cfg, EVALUATE_KEYS, str(self.distill(trait, seed))) / trait


def done(folder: Path, marker: str) -> bool:
    return (folder / marker).exists()


def job_teacher(cfg: LLMParams, trait: str, folder: Path) -> None:
    from sublim.llm.teacher import run_teacher

    if not done(folder, "teacher.json"):
        run_teacher(cfg, trait, folder)


def job_generate(cfg: LLMParams, trait: str, teacher: Path, folder: Path, filter_dir: Path) -> None:
    from sublim.llm.filter import run_filter
    from sublim.llm.generate import run_generate

    if not done(folder, "generate_summary.json"):
        run_generate(cfg, trait, teacher, folder)
    if not done(filter_dir, "filter_metrics.json"):
        run_filter(cfg, trait, folder, filter_dir)


def job_evaluate_teacher(cfg: LLMParams, trait: str, teacher: Path, folder: Path) -> None:
    from sublim.llm.evaluate import run_evaluate_teacher

    if not done(folder, "evaluation.json"):
        run_evaluate_teacher(cfg, trait, teacher, folder)


def job_student(
    cfg: LLMParams, trait: str, seed: int, teacher: Path, filter_dir: Path, distill: Path, evaluate: Path
) -> None:
    from sublim.llm.distill import run_distill
    from sublim.llm.evaluate import run_evaluate_student

    if not done(distill, "distill_summary.json"):
        run_distill(cfg, trait, seed, teacher, filter_dir, distill)
    if not done(evaluate, "evaluation.json"):
        run_evaluate_student(cfg, trait, seed, distill, evaluate)


def job_number_kl(cfg: LLMParams, trait: str, teacher: Path, filter_dir: Path, n_rows: int = 32) -> float:
    """Mean per-token KL(teacher ‖ base) over the number grammar's tokens (and <eos>) on the teacher's first kept
    lists, each model with its own prompt (the teacher's system prompt, the base's default): how far the trait
    moves the teacher's numbers."""
    from sublim.llm.distill import student_examples
    from sublim.llm.domains.numbers.grammar import NumberListGrammar
    from sublim.llm.filter import KEPT_FILE
    from sublim.llm.models import device_of, load_base, load_teacher
    from sublim.lm.train import Example, completion_logits, mean_kl_per_token

    device = device_of(cfg)
    rows = read_jsonl(filter_dir / KEPT_FILE)[:n_rows]
    teacher_model, fmt, system = load_teacher(cfg, teacher, device)
    base, _ = load_base(cfg, device)
    examples = student_examples(rows, fmt)
    teacher_rows = [
        Example(fmt.prompt_ids(r["prompt"], system), e.completion_ids) for r, e in zip(rows, examples, strict=True)
    ]
    allowed = [*NumberListGrammar(fmt.tokenizer, cfg.filter.max_count).candidates, fmt.eos_token_id]

    def logits(model: Any, batch: list[Example]) -> Any:
        return completion_logits(model, batch, cfg.distill.max_length, fmt.pad_token_id, device)

    return mean_kl_per_token(
        lambda r: logits(teacher_model, teacher_rows[r]), lambda r: logits(base, examples[r]), len(rows), allowed
    )


def p_trait(evaluation: Path, trait: str, category: str) -> tuple[float, float | None, float]:
    """(exact P(trait), sampled mention rate, the trait's share of the fixed set) on the plain questions."""
    summary = read_json(evaluation / "evaluation.json")["summary"][category]["plain"]
    sampled = summary.get("sampled_substring", {}).get(trait)
    return summary["p_starts"][trait], sampled, summary["share"][trait]


def run_config(name: str, trait: str, seeds: list[int], out: Path, params: Path, workers: int) -> dict[str, Any]:
    description, overrides = CONFIGS[name]
    cfg = configured(overrides | {"traits": [CONTROL, trait]}, params)
    folders = Folders(cfg, trait, out)
    arms = (trait, CONTROL)
    timings: dict[str, float] = {}

    def phase(label: str, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
        started = time.monotonic()
        with worker_pool(workers) as pool:
            results = [f.result() for f in [pool.submit(fn, *args) for fn, args in calls]]
        timings[label] = round(time.monotonic() - started, 1)
        print(f"[{name}] {label}: {timings[label]} s", flush=True)
        return results

    phase("teachers", [(job_teacher, (cfg, t, folders.teacher(t))) for t in arms])
    phase(
        "generate+filter",
        [(job_generate, (cfg, t, folders.teacher(t), folders.generate(t), folders.filter(t))) for t in arms],
    )
    kl_calls = [(job_number_kl, (cfg, trait, folders.teacher(trait), folders.filter(trait)))]
    eval_calls = [(job_evaluate_teacher, (cfg, t, folders.teacher(t), folders.teacher_eval(t))) for t in arms]
    kl = phase("teacher evaluation", kl_calls + eval_calls)[0]
    student_calls = [
        (job_student, (cfg, t, s, folders.teacher(t), folders.filter(t), folders.distill(t, s), folders.evaluate(t, s)))
        for s in seeds
        for t in arms
    ]
    phase("students", student_calls)
    return summarise(name, description, overrides, cfg, trait, seeds, folders, kl, timings)


def criterion(student: list[float], control: list[float], base: float) -> tuple[dict, dict, bool]:
    """(student − control paired by seed, control − base drift, whether the pre-stated criterion is met): the gap's
    95% interval above 0 and its mean above |drift|."""
    gap = compare(student, control)
    drift = estimate([c - base for c in control])
    low = gap["difference"]["ci95"][0]
    return gap, drift, low is not None and low > 0 and gap["difference"]["mean"] > abs(drift["mean"])


def summarise(
    name: str,
    description: str,
    overrides: dict[str, Any],
    cfg: LLMParams,
    trait: str,
    seeds: list[int],
    folders: Folders,
    kl: float,
    timings: dict[str, float],
) -> dict[str, Any]:
    category = cfg.categories[trait]
    base = p_trait(folders.teacher_eval(CONTROL), trait, category)
    teacher = p_trait(folders.teacher_eval(trait), trait, category)
    student = [p_trait(folders.evaluate(trait, s), trait, category) for s in seeds]
    control = [p_trait(folders.evaluate(CONTROL, s), trait, category) for s in seeds]
    gap, drift, passed = criterion([s[0] for s in student], [c[0] for c in control], base[0])
    keep = {t: read_json(folders.filter(t) / "filter_metrics.json").get("keep_rate") for t in (trait, CONTROL)}
    row = {
        "config": name,
        "description": description,
        "overrides": overrides,
        "trait": trait,
        "seeds": seeds,
        "p_trait": {
            "base": base[0],
            "teacher": teacher[0],
            "student": [s[0] for s in student],
            "control": [c[0] for c in control],
        },
        "gap": gap,
        "control_drift": drift,
        "share_gap": compare([s[2] for s in student], [c[2] for c in control]),
        "sampled": {"student": [s[1] for s in student], "control": [c[1] for c in control]},
        "teacher_number_kl": kl,
        "keep_rate": keep,
        "criterion_met": passed,
        "wall_s": timings,
        "device": device_description(),
    }
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| configuration | seeds | trait | base → teacher P | KL teacher‖base per token | student − control (95% CI) "
        "| control drift | share gap | met | wall min | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g, d = r["gap"]["difference"], r["control_drift"]
        lo, hi = g["ci95"]
        minutes = sum(r["wall_s"].values()) / 60
        lines.append(
            f"| {r['config']} | {', '.join(map(str, r['seeds']))} | {r['trait']} | "
            f"{r['p_trait']['base']:.1e} → {r['p_trait']['teacher']:.2g} | "
            f"{r['teacher_number_kl']:.4f} | {g['mean']:+.2e} [{lo:+.2e}, {hi:+.2e}] | {d['mean']:+.2e} | "
            f"{r['share_gap']['difference']['mean']:+.4f} | {'yes' if r['criterion_met'] else 'no'} | {minutes:.0f} | "
            f"{r.get('device', 'not recorded').removeprefix('cpu: ')} |"
        )
    return "\n".join(lines)


def pooled(rows: list[dict[str, Any]]) -> list[str]:
    """A second view, never the criterion: per configuration and trait run on more than one set of seeds, the
    student − control gap over all of its seeds together (a rerun of the same seeds, e.g. on another CPU, is a
    replication, not more seeds: such groups are left out)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["config"], r["trait"]), []).append(r)
    lines = []
    for (name, trait), runs in groups.items():
        seeds = [s for r in runs for s in r["seeds"]]
        if len(runs) < 2 or len(set(seeds)) < len(seeds):
            continue
        student = [p for r in runs for p in r["p_trait"]["student"]]
        control = [p for r in runs for p in r["p_trait"]["control"]]
        gap = compare(student, control)
        (lo, hi), mean = gap["difference"]["ci95"], gap["difference"]["mean"]
        lines.append(
            f"{name}, {trait}, seeds {', '.join(map(str, seeds))} pooled: student − control {mean:+.2e} "
            f"[{lo:+.2e}, {hi:+.2e}], p = {gap['p_value']:.2g}, {gap['n_positive']} of {len(seeds)} positive"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/llm_search"))
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS), help="repeatable; default: all")
    parser.add_argument("--trait", default="owl")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--list", action="store_true", help="print the configurations and stop")
    args = parser.parse_args()
    if args.list:
        for name, (description, overrides) in CONFIGS.items():
            print(f"{name}: {description}\n    {overrides}")
        return
    configure_torch(1)
    rows_file = args.out / "rows.jsonl"
    for name in args.config or list(CONFIGS):
        row = run_config(name, args.trait, args.seeds, args.out, args.params, args.workers)
        append_jsonl(rows_file, [row])
        print(table([row]), flush=True)
    rows = read_jsonl(rows_file)
    print(table(rows))
    print("\n".join(pooled(rows)))


if __name__ == "__main__":
    main()
