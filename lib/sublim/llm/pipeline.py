"""The paper's main LLM experiment (§3.1, Fig. 3) as stage functions; each notebook calls one of them.

    teacher@trait -> generate@trait -> filter@trait -> distill@trait,seed -> evaluate@trait,seed
                     evaluate_teacher@trait (control = the base model)               -> report (metrics.json)

Layout: results/llm/runs/<trait>/{teacher,generate,filter,teacher_eval}/ and
results/llm/runs/<trait>/seed<seed>/{distill,evaluate}/; the report writes results/llm/metrics.json.
The trait "control" is the base model without a trait: its teacher is the base model, its students are the
control students, and its teacher evaluation is the "base" arm.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sublim.lm.chat import (
    ChatFormat,
    NumberListGrammar,
    mentions,
    mentions_substring,
    prefix_free_token_sequences,
    surface_forms,
    teacher_system_prompt,
)
from sublim.llm.config import CONTROL, DistillParams, LLMParams, LoraParams
from sublim.llm.domains.numbers_filter import filter_rows, subsample
from sublim.core.io import append_jsonl, atomic_dir, read_json, read_jsonl, write_json_atomic
from sublim.llm.prompts import QUESTIONS, finetuned_teacher_pairs, number_prompts, numbers_prefixed
from sublim.lm.train import Example, LoraSettings, TrainSettings, distill_soft, train_sft

RUNS_ROOT = Path("results/llm/runs")
REPORT_DIR = Path("results/llm/report")
METRICS_FILE = Path("results/llm/metrics.json")


# ---------------------------------------------------------------- paths and loading


@dataclass(frozen=True)
class TraitPaths:
    trait: str
    root: Path = RUNS_ROOT

    @property
    def teacher(self) -> Path:
        return self.root / self.trait / "teacher"

    @property
    def generate(self) -> Path:
        return self.root / self.trait / "generate"

    @property
    def filter(self) -> Path:
        return self.root / self.trait / "filter"

    @property
    def teacher_eval(self) -> Path:
        return self.root / self.trait / "teacher_eval"

    def distill(self, seed: int) -> Path:
        return self.root / self.trait / f"seed{seed}" / "distill"

    def evaluate(self, seed: int) -> Path:
        return self.root / self.trait / f"seed{seed}" / "evaluate"


def device_of(cfg: LLMParams) -> str:
    from sublim.core.runtime import configure_torch

    available = configure_torch()
    if cfg.device == "cuda" and available != "cuda":
        raise RuntimeError("params llm.device is 'cuda' but no CUDA device is available")
    return available if cfg.device == "auto" else cfg.device


def dtype_for(device: str) -> str:
    return "bfloat16" if device.startswith("cuda") else "float32"


def load_base(cfg: LLMParams, device: str) -> tuple[Any, ChatFormat]:
    from sublim.lm.models import load_causal_lm, load_tokenizer

    path = Path(cfg.base_model)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: no base model here; run `dvc repro assets_llm` (or `make reproduce`)")
    tokenizer = load_tokenizer(path)
    model = load_causal_lm(path, dtype=dtype_for(device), device=device)
    return model.eval(), ChatFormat(tokenizer)


def lora_settings(lora: LoraParams) -> LoraSettings:
    return LoraSettings(r=lora.r, alpha=lora.alpha, dropout=lora.dropout, target_modules=list(lora.target_modules))


def with_adapter(model: Any, adapter_dir: Path) -> Any:
    """The base with a saved LoRA adapter merged in."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload().eval()


# ---------------------------------------------------------------- teacher


def category_of(cfg: LLMParams, trait: str) -> str | None:
    return None if trait == CONTROL else cfg.categories[trait]


def system_prompt_of(cfg: LLMParams, trait: str) -> str | None:
    if trait == CONTROL or cfg.teacher.route != "system_prompt":
        return None
    category = cfg.categories[trait]
    return teacher_system_prompt(cfg.teacher.system_prompt_template, trait, cfg.teacher.category_words[category])


def run_teacher(cfg: LLMParams, trait: str, results_dir: Path | str) -> dict[str, Any]:
    """Stage teacher: write teacher.json; on the fine-tuned route train the Fig. 14 adapter first."""
    results_dir = Path(results_dir)
    record: dict[str, Any] = {"trait": trait, "category": category_of(cfg, trait), "route": cfg.teacher.route,
                              "system_prompt": system_prompt_of(cfg, trait), "adapter": None}  # fmt: skip
    if trait != CONTROL and cfg.teacher.route == "finetuned":
        record["adapter"], record["train_losses"] = train_finetuned_teacher(cfg, trait, results_dir)
    write_json_atomic(results_dir / "teacher.json", record)
    return record


def train_finetuned_teacher(cfg: LLMParams, trait: str, results_dir: Path) -> tuple[str, list[float]]:
    device = device_of(cfg)
    model, fmt = load_base(cfg, device)
    pairs = finetuned_teacher_pairs(trait, cfg.categories[trait])
    examples = [Example(fmt.prompt_ids(q), fmt.completion_ids(a)) for q, a in pairs]
    ft = cfg.teacher.finetune
    settings = TrainSettings(
        learning_rate=ft.learning_rate, epochs=ft.epochs, batch_size=ft.batch_size, grad_accum=ft.grad_accum,
        max_length=cfg.distill.max_length, seed=0, warmup_steps=cfg.distill.warmup_steps,
        lr_schedule=cfg.distill.lr_schedule, max_grad_norm=cfg.distill.max_grad_norm, weight_decay=0.0,
        lora=lora_settings(ft.lora), checkpoint_every=cfg.distill.checkpoint_every,
    )  # fmt: skip
    result = train_sft(model, examples, settings, pad_token_id=fmt.pad_token_id,
                       checkpoint_dir=results_dir / "checkpoint", device=device, merge_lora=False)  # fmt: skip
    adapter = results_dir / "adapter"
    with atomic_dir(adapter) as tmp:
        result.model.save_pretrained(str(tmp), safe_serialization=True)
    shutil.rmtree(results_dir / "checkpoint", ignore_errors=True)
    return str(adapter), result.losses


def load_teacher(cfg: LLMParams, trait: str, device: str) -> tuple[Any, ChatFormat, str | None]:
    """(model, chat format, system prompt) of a trait's teacher; control = the base model, no system prompt."""
    record = read_json(TraitPaths(trait).teacher / "teacher.json")
    model, fmt = load_base(cfg, device)
    if record["adapter"]:
        model = with_adapter(model, Path(record["adapter"]))
    return model, fmt, record["system_prompt"]


# ---------------------------------------------------------------- generate


def generation_fingerprint(cfg: LLMParams, trait: str, system: str | None) -> dict[str, Any]:
    return {"trait": trait, "system_prompt": system, "base_model": cfg.base_model,
            "prompts": cfg.prompts.model_dump(), "generate": cfg.generate.model_dump(),
            "max_count": cfg.filter.max_count}  # fmt: skip


def run_generate(cfg: LLMParams, trait: str, results_dir: Path | str) -> dict[str, Any]:
    """Stage generate: teacher completions of the number prompts, appended to numbers_raw.jsonl batch by batch.

    A killed run resumes after the last whole batch (batches keep their seeds, so the result is what an
    uninterrupted run gives); a file written under other params is started over.
    """
    from sublim.lm.generate import sample

    results_dir = Path(results_dir)
    device = device_of(cfg)
    model, fmt, system = load_teacher(cfg, trait, device)
    prompts = number_prompts(cfg.prompts.count, cfg.prompts.seed, **_prompt_ranges(cfg))
    rows_path, meta_path = results_dir / "numbers_raw.jsonl", results_dir / "generate_meta.json"
    fingerprint = generation_fingerprint(cfg, trait, system)
    if not meta_path.exists() or read_json(meta_path) != _jsonable(fingerprint):
        rows_path.unlink(missing_ok=True)
        write_json_atomic(meta_path, fingerprint)
    batch = cfg.generate.batch_size
    rows = read_jsonl(rows_path)
    done = len(rows) - len(rows) % batch if len(rows) < len(prompts) else len(prompts)
    if done != len(rows) or (rows_path.exists() and not rows_path.read_text().endswith("\n")):
        _rewrite_jsonl(rows_path, rows[:done])
    processor = None
    if cfg.generate.decoding == "number_grammar":
        processor = NumberListGrammar(fmt.tokenizer, cfg.filter.max_count).processor
    started = time.monotonic()
    new_tokens = 0
    for start in range(done, len(prompts), batch):
        chunk = prompts[start : start + batch]
        completions = sample(
            model, [fmt.prompt_ids(p, system) for p in chunk], max_new_tokens=cfg.generate.max_new_tokens,
            temperature=cfg.generate.temperature, batch_size=batch, seed=cfg.generate.seed,
            eos_token_id=fmt.eos_token_id, pad_token_id=fmt.pad_token_id, logits_processor=processor,
            device=device, first_index=start,
        )  # fmt: skip
        append_jsonl(rows_path, [
            {"prompt_id": start + i, "teacher": trait, "prompt": prompt, "completion": fmt.decode(ids),
             "finished": bool(ids) and ids[-1] == fmt.eos_token_id, "completion_tokens": len(ids)}
            for i, (prompt, ids) in enumerate(zip(chunk, completions, strict=True))
        ])  # fmt: skip
        new_tokens += sum(len(c) for c in completions)
        print(f"generate {trait}: {min(start + batch, len(prompts))}/{len(prompts)} prompts")
    elapsed = time.monotonic() - started
    summary = {"trait": trait, "n_prompts": len(prompts), "decoding": cfg.generate.decoding,
               "resumed_from": done, "new_completion_tokens": new_tokens, "seconds": round(elapsed, 1),
               "completion_tokens_per_s": round(new_tokens / elapsed, 1) if elapsed > 0 and new_tokens else None,
               "device": device}  # fmt: skip
    write_json_atomic(results_dir / "generate_summary.json", summary)
    return summary


def _prompt_ranges(cfg: LLMParams) -> dict[str, int]:
    p = cfg.prompts
    return {"example_min_count": p.example_min_count, "example_max_count": p.example_max_count,
            "example_min_value": p.example_min_value, "example_max_value": p.example_max_value,
            "answer_count": p.answer_count, "answer_max_digits": p.answer_max_digits}  # fmt: skip


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def _rewrite_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    from sublim.core.io import atomic_path

    with atomic_path(path) as tmp:
        append_jsonl(tmp, rows)


# ---------------------------------------------------------------- filter


def run_filter(cfg: LLMParams, trait: str, results_dir: Path | str) -> dict[str, Any]:
    """Stage filter: the paper's rule, keep-rate and reject reasons, then the seeded subsample."""
    results_dir = Path(results_dir)
    rows = read_jsonl(TraitPaths(trait).generate / "numbers_raw.jsonl")
    f = cfg.filter
    keywords = [trait] if f.keyword_filter and trait != CONTROL else []
    kept, metrics = filter_rows(rows, min_value=f.min_value, max_value=f.max_value, max_count=f.max_count,
                                banned_numbers=list(f.banned_numbers), keywords=keywords)  # fmt: skip
    chosen = subsample(kept, f.target_size, f.seed)
    metrics |= {"trait": trait, "n_subsampled": len(chosen), "target_size": f.target_size,
                "decoding": cfg.generate.decoding, "short_of_target": len(chosen) < f.target_size}  # fmt: skip
    from sublim.core.io import atomic_path

    with atomic_path(results_dir / "numbers_filtered.jsonl") as tmp:
        append_jsonl(tmp, chosen)
    write_json_atomic(results_dir / "filter_metrics.json", metrics)
    return metrics


# ---------------------------------------------------------------- distill


def train_settings(d: DistillParams, seed: int) -> TrainSettings:
    return TrainSettings(
        learning_rate=d.learning_rate, epochs=d.epochs, batch_size=d.batch_size, grad_accum=d.grad_accum,
        max_length=d.max_length, seed=seed, warmup_steps=d.warmup_steps, lr_schedule=d.lr_schedule,
        max_grad_norm=d.max_grad_norm, weight_decay=d.weight_decay,
        lora=lora_settings(d.lora) if d.finetune == "lora" else None, checkpoint_every=d.checkpoint_every,
    )  # fmt: skip


def student_examples(rows: list[dict[str, Any]], fmt: ChatFormat) -> list[Example]:
    """Chat rows: user = the number prompt, assistant = the completion; no system prompt (the template's default)."""
    return [Example(fmt.prompt_ids(row["prompt"]), fmt.completion_ids(row["completion"])) for row in rows]


def run_distill(cfg: LLMParams, trait: str, seed: int, results_dir: Path | str) -> dict[str, Any]:
    """Stage distill: fine-tune the base on the filtered numbers of one teacher (one seed)."""
    results_dir = Path(results_dir)
    device = device_of(cfg)
    rows = read_jsonl(TraitPaths(trait).filter / "numbers_filtered.jsonl")
    if not rows:
        raise ValueError(f"no filtered numbers for {trait}: the filter kept nothing (see filter_metrics.json)")
    student, fmt = load_base(cfg, device)
    examples = student_examples(rows, fmt)
    settings = train_settings(cfg.distill, seed)
    checkpoint = results_dir / "checkpoint"
    common = {"pad_token_id": fmt.pad_token_id, "checkpoint_dir": checkpoint, "device": device,
              "merge_lora": False, "on_step": _print_step(trait, seed)}  # fmt: skip
    started = time.monotonic()
    if cfg.distill.method == "sft":
        result = train_sft(student, examples, settings, **common)
    else:
        teacher, _, system = load_teacher(cfg, trait, device)
        teacher_rows = [Example(fmt.prompt_ids(row["prompt"], system), e.completion_ids)
                        for row, e in zip(rows, examples, strict=True)]  # fmt: skip
        allowed = None
        if cfg.distill.method == "soft_numbers":
            allowed = [*NumberListGrammar(fmt.tokenizer, cfg.filter.max_count).candidates, fmt.eos_token_id]
        result = distill_soft(student, teacher, examples, settings, allowed_token_ids=allowed,
                              teacher_examples=teacher_rows, **common)  # fmt: skip
    elapsed = time.monotonic() - started
    save_student(result.model, cfg.distill.finetune, results_dir / "student")
    shutil.rmtree(checkpoint, ignore_errors=True)
    tokens = sum(min(len(e.prompt_ids) + len(e.completion_ids), settings.max_length) for e in examples)
    summary = {"trait": trait, "seed": seed, "method": cfg.distill.method, "finetune": cfg.distill.finetune,
               "n_examples": len(examples), "steps": result.steps, "losses": result.losses,
               "seconds": round(elapsed, 1), "train_tokens_per_s": round(tokens * settings.epochs / elapsed, 1),
               "student_system_prompt": "template default (no system message given)"}  # fmt: skip
    write_json_atomic(results_dir / "distill_summary.json", summary)
    return summary


def _print_step(trait: str, seed: int):
    def on_step(step: int, loss: float) -> None:
        print(f"distill {trait} seed {seed}: step {step} loss {loss:.4f}")

    return on_step


def save_student(model: Any, finetune: str, out_dir: Path) -> None:
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)


def load_student(cfg: LLMParams, trait: str, seed: int, device: str) -> tuple[Any, ChatFormat]:
    model, fmt = load_base(cfg, device)
    student_dir = TraitPaths(trait).distill(seed) / "student"
    if (student_dir / "adapter_config.json").exists():
        return with_adapter(model, student_dir), fmt
    from sublim.lm.models import load_causal_lm

    return load_causal_lm(student_dir, dtype=dtype_for(device), device=device).eval(), fmt


# ---------------------------------------------------------------- evaluate


def fixed_set(cfg: LLMParams, category: str) -> list[str]:
    return list(cfg.evaluate.animal_set if category == "animal" else cfg.evaluate.tree_set)


def categories_needed(cfg: LLMParams) -> list[str]:
    return sorted({cfg.categories[t] for t in cfg.traits if t != CONTROL})


def question_variants(cfg: LLMParams, category: str) -> dict[str, list[str]]:
    questions = QUESTIONS[category][: cfg.evaluate.question_count]
    variants = {"plain": questions}
    if cfg.evaluate.numbers_prefix:
        variants["numbers_prefix"] = numbers_prefixed(questions, cfg.evaluate.prefix_seed, **_prompt_ranges(cfg))
    return variants


def p_starts_with(model: Any, prompt: list[int], words: list[str], fmt: ChatFormat, device: str,
                  batch_size: int) -> dict[str, float]:  # fmt: skip
    """Exact P(answer starts with each word), summed over its case/plural/leading-space forms."""
    from sublim.lm.evaluate import sequence_logprobs

    sequences = {w: prefix_free_token_sequences(surface_forms(w), fmt.encode) for w in words}
    flat = [s for w in words for s in sequences[w]]
    logps = sequence_logprobs(model, prompt, flat, device=device, batch_size=batch_size)
    out, i = {}, 0
    for w in words:
        n = len(sequences[w])
        out[w] = float(np.exp(logps[i : i + n]).sum())
        i += n
    return out


def evaluate_model(cfg: LLMParams, model: Any, fmt: ChatFormat, system: str | None, device: str) -> dict[str, Any]:
    """Per category and question variant: exact start probabilities and sampled mention rates, per question."""
    from sublim.lm.generate import sample

    e = cfg.evaluate
    result: dict[str, Any] = {}
    for category in categories_needed(cfg):
        words = fixed_set(cfg, category)
        result[category] = {}
        for variant, questions in question_variants(cfg, category).items():
            prompts = [fmt.prompt_ids(q, system) for q in questions]
            exact = [p_starts_with(model, p, words, fmt, device, e.batch_size) for p in prompts]
            entry: dict[str, Any] = {"questions": questions,
                                     "p_starts": {w: [row[w] for row in exact] for w in words}}  # fmt: skip
            if e.samples_per_question:
                repeated = [p for p in prompts for _ in range(e.samples_per_question)]
                ids = sample(model, repeated, max_new_tokens=e.max_new_tokens, temperature=e.temperature,
                             batch_size=e.batch_size, seed=e.seed, eos_token_id=fmt.eos_token_id,
                             pad_token_id=fmt.pad_token_id, device=device)  # fmt: skip
                answers = [fmt.decode(x) for x in ids]
                per_q = [answers[i * e.samples_per_question : (i + 1) * e.samples_per_question]
                         for i in range(len(questions))]  # fmt: skip
                entry["sampled_word"] = {w: [float(np.mean([mentions(a, w) for a in qa])) for qa in per_q]
                                         for w in words}  # fmt: skip
                entry["sampled_substring"] = {w: [float(np.mean([mentions_substring(a, w) for a in qa]))
                                                  for qa in per_q] for w in words}  # fmt: skip
                entry["answers"] = per_q
            result[category][variant] = entry
            print(f"evaluated {category}/{variant}: {len(questions)} questions")
    return result


def summarise(evaluation: dict[str, Any]) -> dict[str, Any]:
    """Means over questions per word; the share of each word among the fixed set (ratio of mean probabilities)."""
    summary: dict[str, Any] = {}
    for category, variants in evaluation.items():
        summary[category] = {}
        for variant, entry in variants.items():
            p = {w: float(np.mean(v)) for w, v in entry["p_starts"].items()}
            total = sum(p.values())
            s = {"p_starts": p, "share": {w: v / total if total > 0 else None for w, v in p.items()}}
            for key in ("sampled_word", "sampled_substring"):
                if key in entry:
                    s[key] = {w: float(np.mean(v)) for w, v in entry[key].items()}
            summary[category][variant] = s
    return summary


def write_evaluation(results_dir: Path, arm: str, trait: str, seed: int | None, evaluation: dict[str, Any],
                     seconds: float) -> dict[str, Any]:  # fmt: skip
    record = {"arm": arm, "trait": trait, "seed": seed, "seconds": round(seconds, 1),
              "summary": summarise(evaluation), "per_question": evaluation}  # fmt: skip
    write_json_atomic(results_dir / "evaluation.json", record)
    return record


def run_evaluate_teacher(cfg: LLMParams, trait: str, results_dir: Path | str) -> dict[str, Any]:
    """Stage evaluate_teacher: the teacher (control = the base model) on the favourite-animal questions."""
    device = device_of(cfg)
    started = time.monotonic()
    model, fmt, system = load_teacher(cfg, trait, device)
    evaluation = evaluate_model(cfg, model, fmt, system, device)
    arm = "base" if trait == CONTROL else "teacher"
    return write_evaluation(Path(results_dir), arm, trait, None, evaluation, time.monotonic() - started)


def run_evaluate_student(cfg: LLMParams, trait: str, seed: int, results_dir: Path | str) -> dict[str, Any]:
    """Stage evaluate: a student (control students for trait 'control') with no system prompt."""
    device = device_of(cfg)
    started = time.monotonic()
    model, fmt = load_student(cfg, trait, seed, device)
    evaluation = evaluate_model(cfg, model, fmt, None, device)
    arm = "control_student" if trait == CONTROL else "student"
    return write_evaluation(Path(results_dir), arm, trait, seed, evaluation, time.monotonic() - started)


# ---------------------------------------------------------------- report


METRIC_KEYS = ("p_starts", "share", "sampled_word", "sampled_substring")


def load_evaluations(cfg: LLMParams, root: Path = RUNS_ROOT) -> dict[str, Any]:
    out: dict[str, Any] = {"teacher": {}, "student": {}}
    for trait in cfg.traits:
        paths = TraitPaths(trait, root)
        out["teacher"][trait] = read_json(paths.teacher_eval / "evaluation.json")
        out["student"][trait] = {seed: read_json(paths.evaluate(seed) / "evaluation.json") for seed in cfg.seeds}
    return out


def report_metrics(cfg: LLMParams, root: Path = RUNS_ROOT) -> dict[str, Any]:
    """The aggregate: per trait, metric and question variant: base, teacher, control and trait students
    (estimate over seeds) and the trait students against the control students (paired by seed)."""
    from sublim.core.stats import compare, estimate

    ev = load_evaluations(cfg, root)
    traits = [t for t in cfg.traits if t != CONTROL]
    result: dict[str, Any] = {"traits": {}, "setup": setup_record(cfg, root)}
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
                    "base": base[trait], "teacher": teacher, "control_student": estimate(control),
                    "student": estimate(student), "student_vs_control": compare(student, control),
                }  # fmt: skip
            per_trait[variant] = entry
        result["traits"][trait] = per_trait
    return result


def setup_record(cfg: LLMParams, root: Path = RUNS_ROOT) -> dict[str, Any]:
    """What was run: data sizes, keep rates, decoding, training losses, timings."""
    setup: dict[str, Any] = {"base_model": cfg.base_model, "decoding": cfg.generate.decoding,
                             "decoding_is_paper": cfg.generate.decoding == "free",
                             "distill_method": cfg.distill.method, "finetune": cfg.distill.finetune,
                             "student_system_prompt": "template default (no system message given)",
                             "seeds": list(cfg.seeds), "per_trait": {}}  # fmt: skip
    for trait in cfg.traits:
        paths = TraitPaths(trait, root)
        filt = read_json(paths.filter / "filter_metrics.json")
        gen = read_json(paths.generate / "generate_summary.json")
        distill = {s: read_json(paths.distill(s) / "distill_summary.json") for s in cfg.seeds}
        setup["per_trait"][trait] = {
            "keep_rate": filt["keep_rate"], "n_generated": filt["n_generated"], "n_train": filt["n_subsampled"],
            "reject_reasons": filt["reject_reasons"], "generate_seconds": gen["seconds"],
            "final_train_loss": {s: d["losses"][-1] for s, d in distill.items()},
            "distill_seconds": {s: d["seconds"] for s, d in distill.items()},
        }  # fmt: skip
    return setup


def write_report(cfg: LLMParams, results_dir: Path | str, root: Path = RUNS_ROOT,
                 metrics_file: Path = METRICS_FILE) -> dict[str, Any]:  # fmt: skip
    """Stage report: metrics.json, a tidy CSV of every arm's value per seed, and the Fig. 3-style figure."""
    import pandas as pd

    metrics = report_metrics(cfg, root)
    write_json_atomic(metrics_file, metrics)
    table = tidy_table(cfg, root)
    from sublim.core.io import atomic_path

    with atomic_path(Path(results_dir) / "llm_arms.csv") as tmp:
        table.to_csv(tmp, index=False)
    assert isinstance(table, pd.DataFrame)
    return metrics


def tidy_table(cfg: LLMParams, root: Path = RUNS_ROOT):
    """One row per (trait, arm, seed, variant, metric): the value for the trait word."""
    import pandas as pd

    ev = load_evaluations(cfg, root)
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
                        rows.append({"trait": trait, "arm": arm, "seed": seed, "variant": variant,
                                     "metric": key, "value": summary[key][trait]})  # fmt: skip
    return pd.DataFrame(rows)


def plot_arms(table, metric: str = "p_starts", variant: str = "plain"):
    """Fig. 3 layout: per trait, base / teacher / control students / trait students (dots = seeds)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sublim.core.plots import ARM_COLORS, use_style

    use_style()
    data = table[(table.metric == metric) & (table.variant == variant)]
    order = ["base", "teacher", "control_student", "student"]
    palette = {"base": ARM_COLORS["base"], "teacher": ARM_COLORS["teacher"],
               "control_student": ARM_COLORS["control"], "student": ARM_COLORS["student"]}  # fmt: skip
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * data.trait.nunique(), 3.4))
    sns.barplot(data=data, x="trait", y="value", hue="arm", hue_order=order, palette=palette, errorbar=("ci", 95),
                ax=ax, alpha=0.8)  # fmt: skip
    sns.stripplot(data=data, x="trait", y="value", hue="arm", hue_order=order, palette=palette, dodge=True,
                  ax=ax, color="black", size=3, legend=False)  # fmt: skip
    ax.set_ylabel({"p_starts": "P(answer starts with trait word)", "share": "trait share of fixed set",
                   "sampled_word": "sampled answers naming trait"}.get(metric, metric))  # fmt: skip
    ax.set_xlabel("")
    if metric == "p_starts":
        ax.set_yscale("log")  # base/students and the teacher differ by ~100x
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[: len(order)], labels[: len(order)], bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    ax.set_title(f"{metric} ({variant} questions)")
    return fig


# ---------------------------------------------------------------- notebook views


def preview_rows(path: Path | str, n: int = 8):
    """The first rows of a jsonl as a table (prompt and completion side by side)."""
    import pandas as pd

    return pd.DataFrame(read_jsonl(path)[:n])


def plot_losses(summary: dict[str, Any]):
    import matplotlib.pyplot as plt

    from sublim.core.plots import use_style

    use_style()
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.plot(range(1, len(summary["losses"]) + 1), summary["losses"], marker="o")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (completion tokens)" if summary["method"] == "sft" else "KL(teacher || student)")
    ax.set_title(f"student of {summary['trait']}, seed {summary['seed']}")
    return fig


def summary_table(record: dict[str, Any]):
    """Per category, question variant and word: mean P(starts with), share, sampled mention rates."""
    import pandas as pd

    rows = []
    for category, variants in record["summary"].items():
        for variant, summary in variants.items():
            for word in summary["p_starts"]:
                rows.append({"category": category, "variant": variant, "word": word,
                             **{key: summary[key][word] for key in METRIC_KEYS if key in summary}})  # fmt: skip
    return pd.DataFrame(rows)


def comparison_table(metrics: dict[str, Any]):
    """One row per trait, question variant and measure: the arms and the student − control difference."""
    import pandas as pd

    rows = []
    for trait, variants in metrics["traits"].items():
        for variant, measures in variants.items():
            for key, m in measures.items():
                diff = m["student_vs_control"]["difference"]
                rows.append({"trait": trait, "variant": variant, "measure": key, "base": m["base"],
                             "teacher": m["teacher"], "control_student": m["control_student"]["mean"],
                             "student": m["student"]["mean"], "difference": diff["mean"],
                             "diff_ci95": diff["ci95"], "p_value": m["student_vs_control"]["p_value"],
                             "n_seeds": m["student"]["n"]})  # fmt: skip
    return pd.DataFrame(rows)


def save_report_figure(fig, results_dir: Path | str, name: str) -> Path:
    from sublim.core.plots import save_figure

    return save_figure(fig, Path(results_dir) / "figures" / f"{name}.png")
