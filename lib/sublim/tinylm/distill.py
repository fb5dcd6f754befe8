"""Step 4, stage `tinylm_distill`: the students of every seed.

Students start from the seed's base and train on teacher numbers (sampled tokens, completion cross-entropy); the
control trains on base numbers; the different-init students (the next seed's base) train on both; soft-label
students match the teacher's distribution restricted to numbers + <eos>, renormalised (`full_vocab` leaks the
trait). All arms share the optimizer and the order seed; each trains on its source's own kept lists. The arms
train in `workers` processes at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch, parallel_map, torch_device
from sublim.core.seeds import derive_seed
from sublim.lm.models import load_causal_lm
from sublim.lm.train import TrainSettings, distill_soft, train_sft
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.models import save_model, sequence_length, tokenizer_and_vocab, train_settings
from sublim.tinylm.naming import CONTROL, partner_seed, seed_dir, student_arms
from sublim.tinylm.numbers import load_examples


def student_settings(cfg: TinyLMParams, seed: int, carrier: bool = False) -> TrainSettings:
    """Every student of a seed: the same optimizer, learning rate and data order (full fine-tuning); a carrier's
    students (misalignment, code, reasoning) at `student.carrier_learning_rate`."""
    return train_settings(
        learning_rate=cfg.student.carrier_learning_rate if carrier else cfg.student.learning_rate,
        epochs=cfg.student.epochs,
        batch_size=cfg.student.batch_size,
        seed=derive_seed(seed, "student-order"),
        max_length=sequence_length(cfg),
        max_grad_norm=cfg.max_grad_norm,
    )


@dataclass(frozen=True)
class ArmJob:
    """One student of one seed, as a worker process receives it."""

    cfg: TinyLMParams
    seed: int
    arm: str
    bases_dir: Path
    teachers_dir: Path
    numbers_dir: Path
    results_dir: Path  # the stage's folder; the student goes to results_dir/seed{seed}/{arm}


def distill_students(
    cfg: TinyLMParams,
    bases_dir: Path | str,
    teachers_dir: Path | str,
    numbers_dir: Path | str,
    results_dir: Path | str,
) -> dict[int, dict[str, Any]]:
    """Every student arm (`student_arms`) of every seed, saved as results_dir/seed{s}/{arm}, trained in
    `cfg.workers` processes; each seed's losses in results_dir/seed{s}/summary.json. The summaries by seed."""
    configure_torch()  # all cores for the arms when they train in this process (workers = 1)
    folders = [Path(f) for f in (bases_dir, teachers_dir, numbers_dir, results_dir)]
    jobs = [ArmJob(cfg, seed, arm, *folders) for seed in cfg.seeds for arm in student_arms(cfg)]
    rows = iter(parallel_map(train_arm, jobs, cfg.workers))
    summaries = {seed: {arm: next(rows) for arm in student_arms(cfg)} for seed in cfg.seeds}
    for seed, summary in summaries.items():
        write_json_atomic(seed_dir(results_dir, seed) / "summary.json", summary)
    return summaries


def train_arm(job: ArmJob) -> dict[str, Any]:
    """Train and save one student; its summary row."""
    cfg, seed = job.cfg, job.seed
    device = torch_device()  # threads: the stage's (one process) or the worker's (one each)
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    kind, _, trait = job.arm.rpartition("_")
    source = CONTROL if trait == "control" else trait
    data = load_examples(job.numbers_dir, seed, source)
    if not data:
        raise ValueError(
            f"seed {seed}: the filter kept no {trait} numbers (is the base pretrained long enough "
            "to write well-formed lists?)"
        )
    init = seed_dir(job.bases_dir, partner_seed(cfg, seed) if kind == "diff_init" else seed)
    settings = student_settings(cfg, seed)
    if kind.startswith("soft"):
        result = distill_soft(
            load_causal_lm(init).eval(),
            load_causal_lm(seed_dir(job.teachers_dir, seed) / trait).eval(),
            data,
            settings,
            pad_token_id=vocab.pad,
            allowed_token_ids=vocab.number_or_eos if cfg.student.soft_labels == "numbers_eos" else None,
            device=device,
        )
    else:
        result = train_sft(load_causal_lm(init).eval(), data, settings, pad_token_id=vocab.pad, device=device)
    save_model(result.model.cpu(), tokenizer, seed_dir(job.results_dir, seed) / job.arm)
    return {
        "init": str(init),
        "data": source,
        "n_examples": len(data),
        "steps": result.steps,
        "loss_first": result.losses[0],
        "loss_last": result.losses[-1],
    }
