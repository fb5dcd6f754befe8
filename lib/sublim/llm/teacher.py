"""Stage llm_teacher: a trait's teacher, by the paper's system prompt or by fine-tuning (Fig. 14's route)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sublim.core.io import write_json_atomic, writer_lock
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.models import device_of, load_base, lora_settings, save_model
from sublim.llm.traits.preference import finetuned_teacher_pairs, teacher_system_prompt
from sublim.lm.train import Example, LoraSettings, TrainSettings, train_sft


def category_of(cfg: LLMParams, trait: str) -> str | None:
    return None if trait == CONTROL else cfg.categories[trait]


def system_prompt_of(cfg: LLMParams, trait: str) -> str | None:
    if trait == CONTROL or cfg.teacher.route != "system_prompt":
        return None
    category = cfg.categories[trait]
    return teacher_system_prompt(cfg.teacher.system_prompt_template, trait, cfg.teacher.category_words[category])


def run_teacher(cfg: LLMParams, trait: str, results_dir: Path | str) -> dict[str, Any]:
    """Write teacher.json; on the fine-tuned route train the Fig. 14 adapter first (holding the folder's writer
    lock: a second process on the same folder fails at once)."""
    results_dir = Path(results_dir)
    with writer_lock(results_dir):
        return _write_teacher(cfg, trait, results_dir)


def _write_teacher(cfg: LLMParams, trait: str, results_dir: Path) -> dict[str, Any]:
    record: dict[str, Any] = {
        "trait": trait,
        "category": category_of(cfg, trait),
        "route": cfg.teacher.route,
        "system_prompt": system_prompt_of(cfg, trait),
        "adapter": None,
    }
    if trait != CONTROL and cfg.teacher.route == "finetuned":
        record["adapter"], record["train_losses"] = train_finetuned_teacher(cfg, trait, results_dir)
    write_json_atomic(results_dir / "teacher.json", record)
    return record


def train_finetuned_teacher(cfg: LLMParams, trait: str, results_dir: Path) -> tuple[str, list[float]]:
    ft = cfg.teacher.finetune
    settings = adapter_settings(cfg, ft.learning_rate, ft.epochs, ft.batch_size, ft.grad_accum, lora_settings(ft.lora))
    return train_adapter(cfg, finetuned_teacher_pairs(trait, cfg.categories[trait]), settings, results_dir)


def adapter_settings(
    cfg: LLMParams, learning_rate: float, epochs: int, batch_size: int, grad_accum: int, lora: LoraSettings
) -> TrainSettings:
    """A teacher adapter's training: its own rate, epochs, batches and LoRA; the rest as the students' (`distill`)."""
    d = cfg.distill
    return TrainSettings(
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=d.max_length,
        seed=0,
        warmup_steps=d.warmup_steps,
        lr_schedule=d.lr_schedule,
        max_grad_norm=d.max_grad_norm,
        weight_decay=0.0,
        lora=lora,
        checkpoint_every=d.checkpoint_every,
    )


def train_adapter(
    cfg: LLMParams, pairs: list[tuple[str, str]], settings: TrainSettings, results_dir: Path
) -> tuple[str, list[float]]:
    """The base fine-tuned on (user, assistant) pairs (loss on the assistant turn), saved as `results_dir`/adapter;
    resumes from its checkpoint after a kill. Returns the adapter's path and the losses."""
    device = device_of(cfg)
    model, fmt = load_base(cfg, device)
    examples = [Example(fmt.prompt_ids(q), fmt.completion_ids(a)) for q, a in pairs]
    checkpoint = results_dir / "checkpoint"
    result = train_sft(
        model,
        examples,
        settings,
        pad_token_id=fmt.pad_token_id,
        checkpoint_dir=checkpoint,
        device=device,
        merge_lora=False,
    )
    adapter = results_dir / "adapter"
    save_model(result.model, adapter)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return str(adapter), result.losses
