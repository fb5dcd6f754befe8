"""Step 1, stage `tinylm_pretrain`: one base model per seed, trained from scratch on the synthetic corpus
(noisy number lists and favourite-animal answers, `sublim.tinylm.data`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch
from sublim.core.seeds import derive_seed
from sublim.lm.train import Example, train_sft
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import Vocab, pretraining_corpus
from sublim.tinylm.models import (
    animal_probabilities,
    new_model,
    save_model,
    sequence_length,
    tokenizer_and_vocab,
    train_settings,
)
from sublim.tinylm.naming import seed_dir


def seed_corpus(cfg: TinyLMParams, vocab: Vocab, seed: int, n_sequences: int) -> list[list[int]]:
    """The pretraining sequences of one seed (token ids, shuffled)."""
    c = cfg.corpus
    return pretraining_corpus(
        vocab,
        n_sequences=n_sequences,
        animal_fraction=c.animal_fraction,
        animal_weights=c.animal_weights,
        n_prompt_numbers=c.n_prompt_numbers,
        n_answer_numbers=c.n_answer_numbers,
        noise=c.noise,
        max_step=c.max_step,
        walk_step=c.walk_step,
        seed=derive_seed(seed, "corpus"),
    )


def pretrain_base(cfg: TinyLMParams, seed: int, device: str = "cpu") -> tuple[Any, list[float]]:
    """A base model trained from scratch; loss on every token after <bos>."""
    _, vocab = tokenizer_and_vocab(cfg)
    corpus = seed_corpus(cfg, vocab, seed, cfg.pretrain.steps * cfg.pretrain.batch_size)
    examples = [Example(sequence[:1], sequence[1:]) for sequence in corpus]
    settings = train_settings(
        learning_rate=cfg.pretrain.learning_rate,
        epochs=1,
        batch_size=cfg.pretrain.batch_size,
        seed=derive_seed(seed, "pretrain-order"),
        max_length=sequence_length(cfg),
        max_grad_norm=cfg.max_grad_norm,
        schedule="linear",
        warmup_steps=cfg.pretrain.warmup_steps,
    )
    result = train_sft(new_model(cfg, vocab, seed), examples, settings, pad_token_id=vocab.pad, device=device)
    return result.model, result.losses


def pretrain_bases(cfg: TinyLMParams, results_dir: Path | str) -> dict[str, Any]:
    """Pretrain one base per seed into results_dir/seed{s}; summary (losses, base rates, time) in summary.json."""
    device = configure_torch()
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    summary: dict[str, Any] = {"seeds": {}}
    for seed in cfg.seeds:
        started, cpu_started = time.monotonic(), time.process_time()
        model, losses = pretrain_base(cfg, seed, device)
        save_model(model.cpu(), tokenizer, seed_dir(results_dir, seed))
        summary["seeds"][str(seed)] = {
            "loss_first": losses[0],
            "loss_last_100": float(np.mean(losses[-100:])),
            "loss_curve": [float(np.mean(losses[i : i + 50])) for i in range(0, len(losses), 50)],
            "p_animals": animal_probabilities(model, vocab, device),
            "seconds": round(time.monotonic() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu_started, 1),
        }
    weights = np.asarray(cfg.corpus.animal_weights) / np.sum(cfg.corpus.animal_weights)
    summary["corpus_rates"] = dict(zip(cfg.corpus.animals, weights.tolist(), strict=True))
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary
