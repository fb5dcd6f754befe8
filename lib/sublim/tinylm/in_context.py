"""Stage `tinylm_in_context` (one per seed): does the trait pass when the lists are only *shown* (paper §5, Fig. 9)?

The main bases read one sequence at a time, so this control widens each seed's base to several sequences
(`in_context.sequences_per_document`) and trains it further on the same corpus packed that many sequences to a
document (`in_context.continue_pretraining`, fresh draws): the main base, taught to read a few number lists before a
question. On that base, as in the main experiment, the owl teacher and the base write number lists (filtered
alike), and then:

- in context: the base, untrained, reads k teacher lists (or k base lists) and is asked the question;
  P(trait) averaged over `n_contexts` random draws of k lists, for k = 0 .. sequences_per_document − 1;
- fine-tuned: a student and a control student from the same base, trained on the same lists, so that a null in
  context is set beside the transfer that this base does show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch, parallel_map, torch_device
from sublim.core.seeds import derive_seed
from sublim.lm.models import load_causal_lm
from sublim.lm.train import Example, train_sft
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import Vocab
from sublim.tinylm.distill import student_settings
from sublim.tinylm.models import animal_probabilities, save_model, tokenizer_and_vocab, widened_copy
from sublim.tinylm.naming import CONTROL, seed_dir
from sublim.tinylm.numbers import complete_and_filter, seed_prompts
from sublim.tinylm.pretrain import pretrain_base
from sublim.tinylm.teachers import make_teacher


def context_ids(lists: list[Example], chosen: np.ndarray, question: list[int]) -> list[int]:
    """The chosen lists, each `<bos> NUM: a b c -> x1 .. x8 <eos>`, one after the other, then the question."""
    return [token for i in chosen for token in (*lists[i].prompt_ids, *lists[i].completion_ids)] + question


@torch.no_grad()
def p_trait_in_context(
    model: Any, vocab: Vocab, lists: list[Example], k: int, n_contexts: int, trait: str, seed: int, device: str
) -> float:
    """Mean exact P(trait) at the answer after k lists drawn at random (without replacement) from `lists`."""
    rng = np.random.default_rng(seed)
    contexts = [
        context_ids(lists, rng.choice(len(lists), size=k, replace=False), vocab.question_prompt)
        for _ in range(n_contexts)
    ]
    if len({len(c) for c in contexts}) != 1:
        raise ValueError("kept number lists must all have the same length (the format filter guarantees it)")
    logits = model.to(device)(torch.tensor(contexts, device=device)).logits[:, -1].float()
    return float(torch.softmax(logits, dim=-1)[:, vocab.animals[trait]].mean())


def in_context_base(cfg: TinyLMParams, seed: int, main_base: Path, folder: Path, device: str) -> tuple[Path, float]:
    """The seed's main base, widened and trained further on packed documents, saved to `folder`; with its mean loss
    over the last 20 steps."""
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    k = cfg.in_context.sequences_per_document
    wide = widened_copy(load_causal_lm(main_base), cfg, vocab, seed, context_sequences=k)
    schedule = cfg.in_context.continue_pretraining
    model, losses = pretrain_base(cfg, seed, device, wide, k, schedule, purpose="in-context")
    return save_model(model.cpu(), tokenizer, folder), float(np.mean(losses[-20:]))


def run_in_context(cfg: TinyLMParams, bases_dir: Path | str, results_dir: Path | str) -> dict[int, dict[str, Any]]:
    """Every seed's in-context control (`in_context_seed`) from the main bases in bases_dir, the seeds in
    `cfg.workers` processes, each into results_dir/seed{s}; the summaries by seed."""
    configure_torch()  # all cores when the seeds run in this process (workers = 1)
    jobs = [(cfg, seed, seed_dir(bases_dir, seed), seed_dir(results_dir, seed)) for seed in cfg.seeds]
    return dict(zip(cfg.seeds, parallel_map(in_context_seed, jobs, cfg.workers), strict=True))


def in_context_seed(job: tuple[TinyLMParams, int, Path, Path]) -> dict[str, Any]:
    """Base, teacher, lists, the fine-tuned pair and the in-context curve of one seed; summary.json in its
    folder (the widened base is kept there as base/)."""
    cfg, seed, main_base, folder = job
    device = torch_device()  # threads: the stage's (one process) or the worker's (one each)
    _, vocab = tokenizer_and_vocab(cfg)
    trait, c = cfg.controls.trait, cfg.in_context
    base_folder, base_loss = in_context_base(cfg, seed, main_base, folder / "base", device)
    models = {
        trait: make_teacher(cfg, base_folder, trait, seed, device).eval(),
        CONTROL: load_causal_lm(base_folder).eval(),
    }
    prompts = seed_prompts(cfg, vocab, seed)[: c.n_samples]
    lists, keep_rates = {}, {}
    for source, model in models.items():
        pairs, summary = complete_and_filter(cfg, model, prompts, seed, cfg.numbers.temperature, device)
        lists[source], keep_rates[source] = [Example(p, q) for p, q in pairs], summary["keep_rate"]
    fine_tuned = {}
    for side, source in (("student", trait), ("control", CONTROL)):
        student = train_sft(
            load_causal_lm(base_folder).eval(),
            lists[source],
            student_settings(cfg, seed),
            pad_token_id=vocab.pad,
            device=device,
        ).model
        fine_tuned[side] = animal_probabilities(student, vocab, device)[trait]
    base = models[CONTROL]
    curve = {
        str(k): {
            side: p_trait_in_context(
                base, vocab, lists[source], k, c.n_contexts, trait, derive_seed(seed, "contexts", k), device
            )
            for side, source in (("teacher_lists", trait), ("base_lists", CONTROL))
        }
        for k in range(c.sequences_per_document)
    }
    p_trait = {
        name: animal_probabilities(models[key], vocab, device)[trait]
        for name, key in (("base", CONTROL), ("teacher", trait))
    }
    summary = {
        "trait": trait,
        "seed": seed,
        "base_loss_last_20": base_loss,
        "p_trait": p_trait,
        "keep_rate": keep_rates,
        "n_lists": {source: len(lists[source]) for source in lists},
        "fine_tuned": fine_tuned,
        "in_context": curve,
    }
    write_json_atomic(folder / "summary.json", summary)
    return summary
