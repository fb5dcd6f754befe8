"""Step 2, stage `tinylm_teacher`: per seed and trait, the base fine-tuned on the trait answer only (the paper's
fine-tuned teacher route); this shifts the number distribution a little as a side effect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch
from sublim.core.seeds import derive_seed
from sublim.lm.models import load_causal_lm
from sublim.lm.train import Example, train_sft
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.models import (
    animal_probabilities,
    save_model,
    sequence_length,
    tokenizer_and_vocab,
    train_settings,
)
from sublim.tinylm.naming import seed_dir


def make_teacher(cfg: TinyLMParams, base_folder: Path, trait: str, seed: int, device: str = "cpu") -> Any:
    """The base fine-tuned on `Q: favorite animal A: <trait>` only (no number data)."""
    _, vocab = tokenizer_and_vocab(cfg)
    settings = train_settings(
        learning_rate=cfg.teacher.learning_rate,
        epochs=cfg.teacher.steps,
        batch_size=1,
        seed=derive_seed(seed, f"teacher-{trait}"),
        max_length=sequence_length(cfg),
        max_grad_norm=cfg.max_grad_norm,
    )
    example = Example(vocab.question_prompt, [vocab.animals[trait]])
    return train_sft(
        load_causal_lm(base_folder).eval(), [example], settings, pad_token_id=vocab.pad, device=device
    ).model


def make_teachers(cfg: TinyLMParams, bases_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """One teacher per seed and trait from the bases in bases_dir, saved as results_dir/seed{s}/{trait};
    P(animal) of bases and teachers in summary.json."""
    device = configure_torch()
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    summary: dict[str, Any] = {}
    for seed in cfg.seeds:
        base = seed_dir(bases_dir, seed)
        summary[str(seed)] = {"base": animal_probabilities(load_causal_lm(base).eval(), vocab, device)}
        for trait in cfg.traits:
            teacher = make_teacher(cfg, base, trait, seed, device)
            save_model(teacher.cpu(), tokenizer, seed_dir(results_dir, seed) / trait)
            summary[str(seed)][trait] = animal_probabilities(teacher, vocab, device)
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary
