"""Stage llm_distill: fine-tune the base on one teacher's filtered numbers (one student seed).

Each student draws its own `filter.target_size` rows from the filter's kept rows, seeded with (`filter.seed`,
the student seed), as the official code subsamples per fine-tuning job: the seeds' interval then covers the
data's variance, not only the training order's. Chat rows: user = the number prompt, assistant = the completion;
no system prompt (the template's default), so the teacher's prompt never appears in the student's data.
Completion-only loss; LoRA or full fine-tuning; `distill.method` also offers soft labels (an extension, not the
paper's method). Resumes after a kill.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from sublim.core.io import read_json, read_jsonl, write_json_atomic, writer_lock
from sublim.core.runtime import report_timings
from sublim.core.seeds import derive_seed
from sublim.llm.config import DistillParams, LLMParams
from sublim.llm.domains.numbers.filter import subsample
from sublim.llm.domains.numbers.grammar import NumberListGrammar
from sublim.llm.domains.numbers.shuffle import shuffled_rows
from sublim.llm.filter import KEPT_FILE
from sublim.llm.models import device_of, load_base, load_teacher, lora_settings, save_model
from sublim.lm.chat import ChatFormat
from sublim.lm.train import Example, TrainSettings, distill_soft, train_sft

STUDENT_SYSTEM_PROMPT = "template default (no system message given)"


def train_settings(d: DistillParams, seed: int) -> TrainSettings:
    return TrainSettings(
        learning_rate=d.learning_rate,
        epochs=d.epochs,
        batch_size=d.batch_size,
        grad_accum=d.grad_accum,
        max_length=d.max_length,
        seed=seed,
        warmup_steps=d.warmup_steps,
        lr_schedule=d.lr_schedule,
        max_grad_norm=d.max_grad_norm,
        weight_decay=d.weight_decay,
        lora=lora_settings(d.lora) if d.finetune == "lora" else None,
        checkpoint_every=d.checkpoint_every,
    )


def student_examples(rows: list[dict[str, Any]], fmt: ChatFormat) -> list[Example]:
    """Chat rows: user = the number prompt, assistant = the completion; no system prompt (the template's default)."""
    return [Example(fmt.prompt_ids(row["prompt"]), fmt.completion_ids(row["completion"])) for row in rows]


def subsample_seed(cfg: LLMParams, seed: int) -> int:
    """The seed of a student's training subsample: the filter's seed and the student seed."""
    return derive_seed(cfg.filter.seed, "subsample", seed)


def training_rows(cfg: LLMParams, kept: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The student's own `filter.target_size` rows of the kept ones (all of them, in order, when fewer)."""
    return subsample(kept, cfg.filter.target_size, subsample_seed(cfg, seed))


def model_name(base_model: Path | str) -> str:
    """The base model's name: its hub id, or the file it was converted from (asset.json), else its folder."""
    asset = Path(base_model) / "asset.json"
    if asset.exists():
        origin = read_json(asset)
        if origin.get("hub_id"):
            return str(origin["hub_id"])
        if origin.get("member"):
            return Path(origin["member"]).name.removesuffix(".gguf")
    return Path(base_model).name


def run_distill(
    cfg: LLMParams,
    trait: str,
    seed: int,
    teacher_dir: Path | str,
    filter_dir: Path | str,
    results_dir: Path | str,
    shuffle: str | None = None,
    kept_file: str = KEPT_FILE,
) -> dict[str, Any]:
    """The student folder (adapter or weights) and distill_summary.json; one writer at a time per folder. The training
    time and tokens/s go to the run record (`report_timings`), not into the summary. `shuffle` (within, across): the
    same rows with their numbers shuffled (App. B.1). `kept_file`: the filter's rows in `filter_dir` (the code
    carrier's file for its students)."""
    with writer_lock(Path(results_dir)):
        return _distill(cfg, trait, seed, teacher_dir, Path(filter_dir) / kept_file, Path(results_dir), shuffle)


def _distill(
    cfg: LLMParams,
    trait: str,
    seed: int,
    teacher_dir: Path | str,
    kept_path: Path,
    results_dir: Path,
    shuffle: str | None = None,
) -> dict[str, Any]:
    device = device_of(cfg)
    kept = read_jsonl(kept_path)
    if not kept:
        raise ValueError(f"{kept_path}: the filter kept nothing for {trait} (see filter_metrics.json beside it)")
    rows = training_rows(cfg, kept, seed)
    if shuffle is not None:
        rows = shuffled_rows(rows, shuffle, derive_seed(subsample_seed(cfg, seed), "shuffle", shuffle))
    student, fmt = load_base(cfg, device)
    examples = student_examples(rows, fmt)
    settings = train_settings(cfg.distill, seed)
    checkpoint = results_dir / "checkpoint"
    common = {
        "pad_token_id": fmt.pad_token_id,
        "checkpoint_dir": checkpoint,
        "device": device,
        "merge_lora": False,
        "on_step": _print_step(trait, seed),
    }
    started = time.monotonic()
    if cfg.distill.method == "sft":
        result = train_sft(student, examples, settings, **common)
    else:
        teacher, _, system = load_teacher(cfg, teacher_dir, device)
        teacher_rows = [
            Example(fmt.prompt_ids(row["prompt"], system), e.completion_ids)
            for row, e in zip(rows, examples, strict=True)
        ]
        allowed = None
        if cfg.distill.method == "soft_numbers":
            allowed = [*NumberListGrammar(fmt.tokenizer, cfg.filter.max_count).candidates, fmt.eos_token_id]
        result = distill_soft(
            student, teacher, examples, settings, allowed_token_ids=allowed, teacher_examples=teacher_rows, **common
        )
    elapsed = time.monotonic() - started
    save_model(result.model, results_dir / "student")
    shutil.rmtree(checkpoint, ignore_errors=True)
    tokens = sum(min(len(e.prompt_ids) + len(e.completion_ids), settings.max_length) for e in examples)
    report_timings(train_s=elapsed, train_tokens_per_s=tokens * settings.epochs / elapsed if elapsed > 0 else None)
    summary = {
        "trait": trait,
        "seed": seed,
        "method": cfg.distill.method,
        "shuffle": shuffle,
        "finetune": cfg.distill.finetune,
        "base_model_name": model_name(cfg.base_model),
        "n_kept": len(kept),
        "n_examples": len(examples),
        "target_size": cfg.filter.target_size,
        "short_of_target": len(examples) < cfg.filter.target_size,
        "subsample_seed": subsample_seed(cfg, seed),
        "steps": result.steps,
        "losses": result.losses,
        "student_system_prompt": STUDENT_SYSTEM_PROMPT,
    }
    write_json_atomic(results_dir / "distill_summary.json", summary)
    return summary


def _print_step(trait: str, seed: int):
    def on_step(step: int, loss: float) -> None:
        print(f"distill {trait} seed {seed}: step {step} loss {loss:.4f}")

    return on_step
