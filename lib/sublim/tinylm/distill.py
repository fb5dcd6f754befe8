"""Step 4, stage `tinylm_distill` (one per seed): the students.

Students start from the seed's base and train on teacher numbers (sampled tokens, completion cross-entropy); the
control trains on base numbers; the different-init students (the next seed's base) train on both; soft-label
students match the teacher's distribution restricted to numbers + <eos>, renormalised (`full_vocab` leaks the
trait). All arms share the optimizer, the number of steps and the data order.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch
from sublim.core.seeds import derive_seed
from sublim.lm.models import load_causal_lm
from sublim.lm.train import distill_soft, train_sft
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.models import save_model, sequence_length, tokenizer_and_vocab, train_settings
from sublim.tinylm.naming import CONTROL, partner_seed, seed_dir, student_arms
from sublim.tinylm.numbers import load_examples


def distill_students(
    cfg: TinyLMParams,
    seed: int,
    bases_dir: Path | str,
    teachers_dir: Path | str,
    numbers_dir: Path | str,
    results_dir: Path | str,
) -> dict[str, Any]:
    """Every student arm of one seed (see `student_arms`), each saved as results_dir/{arm}; losses and times in
    summary.json. results_dir is the seed's own folder (results/tinylm/students/seed{seed})."""
    device = configure_torch()
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    own, other = seed_dir(bases_dir, seed), seed_dir(bases_dir, partner_seed(cfg, seed))
    settings = train_settings(
        learning_rate=cfg.student.learning_rate,
        epochs=cfg.student.epochs,
        batch_size=cfg.student.batch_size,
        seed=derive_seed(seed, "student-order"),
        max_length=sequence_length(cfg),
        max_grad_norm=cfg.max_grad_norm,
    )
    allowed = vocab.number_or_eos if cfg.student.soft_labels == "numbers_eos" else None
    summary: dict[str, Any] = {}
    for arm in student_arms(cfg):
        started, cpu_started = time.monotonic(), time.process_time()
        kind, _, trait = arm.rpartition("_")
        source = CONTROL if trait == "control" else trait
        data = load_examples(numbers_dir, seed, source)
        if not data:
            raise ValueError(
                f"seed {seed}: the filter kept no {trait} numbers (is the base pretrained long enough "
                "to write well-formed lists?)"
            )
        init = other if kind == "diff_init" else own
        if kind.startswith("soft"):
            result = distill_soft(
                load_causal_lm(init).eval(),
                load_causal_lm(seed_dir(teachers_dir, seed) / trait).eval(),
                data,
                settings,
                pad_token_id=vocab.pad,
                allowed_token_ids=allowed,
                device=device,
            )
        else:
            result = train_sft(load_causal_lm(init).eval(), data, settings, pad_token_id=vocab.pad, device=device)
        save_model(result.model.cpu(), tokenizer, Path(results_dir) / arm)
        summary[arm] = {
            "init": str(init),
            "data": source,
            "n_examples": len(data),
            "steps": result.steps,
            "loss_first": result.losses[0],
            "loss_last": result.losses[-1],
            "seconds": round(time.monotonic() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu_started, 1),
        }
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary
