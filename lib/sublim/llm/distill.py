"""Stage llm_distill: fine-tune the base on one teacher's filtered numbers (one student seed).

Chat rows: user = the number prompt, assistant = the completion; no system prompt (the template's default), so
the teacher's prompt never appears in the student's data. Completion-only loss; LoRA or full fine-tuning;
`distill.method` also offers soft labels (an extension, not the paper's method). Resumes after a kill.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from sublim.core.io import read_jsonl, write_json_atomic
from sublim.llm.config import DistillParams, LLMParams
from sublim.llm.domains.numbers.grammar import NumberListGrammar
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


def run_distill(
    cfg: LLMParams, trait: str, seed: int, teacher_dir: Path | str, filter_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    """The student folder (adapter or weights) and distill_summary.json."""
    results_dir = Path(results_dir)
    device = device_of(cfg)
    rows = read_jsonl(Path(filter_dir) / "numbers_filtered.jsonl")
    if not rows:
        raise ValueError(f"no filtered numbers for {trait}: the filter kept nothing (see filter_metrics.json)")
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
    summary = {
        "trait": trait,
        "seed": seed,
        "method": cfg.distill.method,
        "finetune": cfg.distill.finetune,
        "n_examples": len(examples),
        "steps": result.steps,
        "losses": result.losses,
        "seconds": round(elapsed, 1),
        "train_tokens_per_s": round(tokens * settings.epochs / elapsed, 1),
        "student_system_prompt": STUDENT_SYSTEM_PROMPT,
    }
    write_json_atomic(results_dir / "distill_summary.json", summary)
    return summary


def _print_step(trait: str, seed: int):
    def on_step(step: int, loss: float) -> None:
        print(f"distill {trait} seed {seed}: step {step} loss {loss:.4f}")

    return on_step
