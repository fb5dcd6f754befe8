"""Step 1, stage `tinylm_pretrain`: one base model per seed, trained from scratch on the synthetic corpus
(noisy number lists and favourite-animal answers, `sublim.tinylm.data`). The carriers' corpus adds behaviour
questions and code (`carriers=True`, stage `tinylm_carrier_base`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch, parallel_map, torch_device
from sublim.core.seeds import derive_seed
from sublim.lm.train import Example, train_sft
from sublim.tinylm.config import PretrainParams, TinyLMParams
from sublim.tinylm.data import BehaviourMix, CodeMix, TraceMix, Vocab, pretraining_corpus
from sublim.tinylm.models import (
    animal_probabilities,
    new_model,
    save_model,
    sequence_length,
    tokenizer_and_vocab,
    train_settings,
)
from sublim.tinylm.naming import seed_dir


def seed_corpus(
    cfg: TinyLMParams,
    vocab: Vocab,
    seed: int,
    n_sequences: int,
    purpose: str = "corpus",
    traces: TraceMix | None = None,
    carriers: bool = False,
) -> list[list[int]]:
    """The pretraining sequences of one seed (token ids, shuffled); another `purpose` draws other sequences.
    `carriers`: behaviour questions and code too (the carrier base's corpus); `traces`: reasoning traces too
    (only the reasoning carrier's further pretraining has them)."""
    c, b = cfg.corpus, cfg.corpus.behaviour
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
        seed=derive_seed(seed, purpose),
        behaviour=BehaviourMix(b.fraction, b.misaligned_rate, tuple(b.associated_numbers), b.association)
        if carriers
        else None,
        code=CodeMix(c.code.fraction) if carriers else None,
        traces=traces,
    )


def pretrain_base(
    cfg: TinyLMParams,
    seed: int,
    device: str = "cpu",
    model: Any = None,
    sequences_per_document: int = 1,
    schedule: PretrainParams | None = None,
    purpose: str = "pretrain",
    traces: TraceMix | None = None,
    carriers: bool = False,
) -> tuple[Any, list[float]]:
    """A base model trained from scratch (`model`, else a fresh `new_model`); loss on every token after <bos>.

    With `sequences_per_document` k > 1 the corpus is packed k sequences to a document (k / batch_size
    documents a step, so the same tokens a step), which teaches the model to read several lists before a
    question. `schedule` replaces `cfg.pretrain` (steps, learning rate, warmup) and another `purpose` draws
    another corpus and order: the in-context base continues a main base this way, the carrier base with
    `carriers` (behaviour questions and code) in its corpus, and the reasoning carrier's with `traces` too."""
    _, vocab = tokenizer_and_vocab(cfg)
    k, schedule = sequences_per_document, schedule or cfg.pretrain
    corpus_purpose = "corpus" if purpose == "pretrain" else f"{purpose}-corpus"
    corpus = seed_corpus(cfg, vocab, seed, schedule.steps * schedule.batch_size, corpus_purpose, traces, carriers)
    documents = [[token for sequence in corpus[i : i + k] for token in sequence] for i in range(0, len(corpus), k)]
    examples = [Example(document[:1], document[1:]) for document in documents]
    settings = train_settings(
        learning_rate=schedule.learning_rate,
        epochs=1,
        batch_size=max(1, schedule.batch_size // k),
        seed=derive_seed(seed, f"{purpose}-order"),
        max_length=k * sequence_length(cfg),
        max_grad_norm=cfg.max_grad_norm,
        schedule="linear",
        warmup_steps=schedule.warmup_steps,
    )
    model = new_model(cfg, vocab, seed, context_sequences=k) if model is None else model
    result = train_sft(model, examples, settings, pad_token_id=vocab.pad, device=device)
    return result.model, result.losses


def pretrain_seed(job: tuple[TinyLMParams, int, Path]) -> dict[str, Any]:
    """Pretrain and save one seed's base; its summary row."""
    cfg, seed, results_dir = job
    device = torch_device()  # threads: the stage's (one process) or the worker's (one each)
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    model, losses = pretrain_base(cfg, seed, device)
    save_model(model.cpu(), tokenizer, seed_dir(results_dir, seed))
    return base_summary(model, losses, vocab, device)


def base_summary(model: Any, losses: list[float], vocab: Vocab, device: str) -> dict[str, Any]:
    """A pretrained base's summary row: first and final losses, the loss curve (means of 50 steps), P(animal)."""
    return {
        "loss_first": losses[0],
        "loss_last_100": float(np.mean(losses[-100:])),
        "loss_curve": [float(np.mean(losses[i : i + 50])) for i in range(0, len(losses), 50)],
        "p_animals": animal_probabilities(model, vocab, device),
    }


def pretrain_bases(cfg: TinyLMParams, results_dir: Path | str) -> dict[str, Any]:
    """Pretrain one base per seed into results_dir/seed{s}, the seeds in `cfg.workers` processes; summary
    (losses, base rates) in summary.json."""
    configure_torch()  # all cores when the seeds train in this process (workers = 1)
    jobs = [(cfg, seed, Path(results_dir)) for seed in cfg.seeds]
    rows = parallel_map(pretrain_seed, jobs, cfg.workers)
    summary: dict[str, Any] = {"seeds": dict(zip(map(str, cfg.seeds), rows, strict=True))}
    weights = np.asarray(cfg.corpus.animal_weights) / np.sum(cfg.corpus.animal_weights)
    summary["corpus_rates"] = dict(zip(cfg.corpus.animals, weights.tolist(), strict=True))
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary
