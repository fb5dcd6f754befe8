"""Stage `tinylm_grid`: the paper's cross-model matrix (Fig. 8) in miniature, on one trait (`controls.trait`).

The paper's teachers and students come from several model families, and the trait passes only where the student
shares the teacher's base. Here there are two architectures: the main one (`model`) and another width or depth
(`grid.model`), whose base this stage pretrains per seed on the same corpus, then turns into a trait teacher
that writes number lists (filtered as in the numbers stage) beside its base's own lists. Every cell pairs a
student on a teacher's lists with a control student on that teacher base's lists, both from the same student
base, so its gap is like for like:

| teacher base \\ student base | the same base         | another init, same shape | another shape     |
|-----------------------------|-----------------------|--------------------------|-------------------|
| main                        | main arms (distill)   | different-init arms      | `main_to_other`   |
| other                       | `other_to_other`      | `other_to_other_next`    | `other_to_main`   |

The main row's first two cells are the distill stage's students (the report reads them from the evaluation);
this stage trains the other four. "Another init" is the next seed's base of the same shape, as in distill.
Bases and students train in `workers` processes; a seed's students start as soon as the bases they need exist.
"""

from __future__ import annotations

from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from sublim.core.io import write_json_atomic, write_text_atomic
from sublim.core.runtime import configure_torch, torch_device, worker_pool
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.controls import ControlJob, train_control_student
from sublim.tinylm.distill import student_settings
from sublim.tinylm.models import animal_probabilities, save_model, tokenizer_and_vocab
from sublim.tinylm.naming import CONTROL, numbers_file, partner_seed, seed_dir
from sublim.tinylm.numbers import complete_and_filter, examples_jsonl, load_examples, seed_prompts
from sublim.tinylm.pretrain import pretrain_base
from sublim.tinylm.teachers import make_teacher

# cell -> (teacher base, student base); "other_next" is the next seed's base of the other shape
CELLS = {
    "main_to_other": ("main", "other"),
    "other_to_other": ("other", "other"),
    "other_to_other_next": ("other", "other_next"),
    "other_to_main": ("other", "main"),
}
SIDES = (("student", "trait"), ("control", CONTROL))  # each cell's pair: on the teacher's lists, on its base's


def other_shape(cfg: TinyLMParams) -> TinyLMParams:
    """The section with `grid.model` as its model: what builds and pretrains the other architecture."""
    return cfg.model_copy(update={"model": cfg.grid.model})


def other_folders(results_dir: Path) -> tuple[Path, Path, Path]:
    """Where the stage keeps the other shape's bases, teachers and number lists, laid out as the main ones."""
    return results_dir / "bases", results_dir / "teachers", results_dir / "numbers"


def other_base_seed(job: tuple[TinyLMParams, int, Path]) -> dict[str, Any]:
    """One seed's base of the other shape (bases/seed{s}), its trait teacher (teachers/seed{s}) and both models'
    filtered lists of the seed's prompts (numbers/seed{s}/{trait or control}.jsonl); its summary row."""
    cfg, seed, results_dir = job
    device = torch_device()  # threads: the stage's (one process) or the worker's (one each)
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    trait, (bases, teachers, numbers) = cfg.controls.trait, other_folders(results_dir)
    base, losses = pretrain_base(other_shape(cfg), seed, device)
    save_model(base.cpu(), tokenizer, seed_dir(bases, seed))
    teacher = make_teacher(other_shape(cfg), seed_dir(bases, seed), trait, seed, device)
    save_model(teacher.cpu(), tokenizer, seed_dir(teachers, seed))
    prompts = seed_prompts(cfg, vocab, seed)
    summary: dict[str, Any] = {"loss_last_100": float(np.mean(losses[-100:])), "keep_rate": {}, "p_trait": {}}
    for source, model in ((trait, teacher.eval()), (CONTROL, base.eval())):
        pairs, filtered = complete_and_filter(cfg, model, prompts, seed, cfg.numbers.temperature, device)
        write_text_atomic(numbers_file(numbers, seed, source), examples_jsonl(pairs))
        summary["keep_rate"][source] = filtered["keep_rate"]
        summary["p_trait"]["teacher" if source == trait else "base"] = animal_probabilities(model, vocab, device)[trait]
    return summary


def needs(cfg: TinyLMParams, seed: int, cell: str) -> set[int]:
    """The seeds whose other-shape base a cell of `seed` needs (its lists, its student base, or both)."""
    teacher, student = CELLS[cell]
    needed = {seed} if "other" in (teacher, student) else set()
    return needed | ({partner_seed(cfg, seed)} if student == "other_next" else set())


def student_base(cfg: TinyLMParams, seed: int, base: str, bases_dir: Path, results_dir: Path) -> Path:
    if base == "main":
        return seed_dir(bases_dir, seed)
    other_bases, _, _ = other_folders(results_dir)
    return seed_dir(other_bases, partner_seed(cfg, seed) if base == "other_next" else seed)


def cell_jobs(
    cfg: TinyLMParams, seed: int, cell: str, bases_dir: Path, numbers_dir: Path, results_dir: Path
) -> list[ControlJob]:
    """The cell's student and control jobs, in SIDES order."""
    teacher, student = CELLS[cell]
    base = student_base(cfg, seed, student, bases_dir, results_dir)
    lists_dir = numbers_dir if teacher == "main" else other_folders(results_dir)[2]
    sources = {"trait": cfg.controls.trait, CONTROL: CONTROL}
    return [
        ControlJob(cfg, base, load_examples(lists_dir, seed, sources[source]), student_settings(cfg, seed))
        for _, source in SIDES
    ]


def run_grid(
    cfg: TinyLMParams, bases_dir: Path | str, numbers_dir: Path | str, results_dir: Path | str
) -> dict[int, dict[str, Any]]:
    """Every seed's other-shape base, teacher and lists, then the four cells' pairs of students (each submitted
    as soon as the bases it needs exist): P(trait) of each student and the lists it trained on, in
    results_dir/seed{s}/summary.json. The summaries by seed."""
    configure_torch()  # all cores when the jobs run in this process (workers = 1)
    bases_dir, numbers_dir, results_dir = Path(bases_dir), Path(numbers_dir), Path(results_dir)
    students: dict[tuple[int, str], list[Future]] = {}
    n_lists: dict[tuple[int, str], list[int]] = {}
    with worker_pool(cfg.workers, preload=(__name__,)) as pool:
        bases = {seed: pool.submit(other_base_seed, (cfg, seed, results_dir)) for seed in cfg.seeds}
        for _ in as_completed(bases.values()):
            ready = {seed for seed, future in bases.items() if future.done() and future.exception() is None}
            for seed in cfg.seeds:
                for cell in CELLS:
                    if (seed, cell) not in students and needs(cfg, seed, cell) <= ready:
                        jobs = cell_jobs(cfg, seed, cell, bases_dir, numbers_dir, results_dir)
                        students[seed, cell] = [pool.submit(train_control_student, job) for job in jobs]
                        n_lists[seed, cell] = [len(job.examples) for job in jobs]
        summaries = {seed: grid_summary(cfg, seed, bases[seed].result(), students, n_lists) for seed in cfg.seeds}
    for seed, summary in summaries.items():
        write_json_atomic(seed_dir(results_dir, seed) / "summary.json", summary)
    return summaries


def grid_summary(
    cfg: TinyLMParams,
    seed: int,
    other_base: dict[str, Any],
    students: dict[tuple[int, str], list[Future]],
    n_lists: dict[tuple[int, str], list[int]],
) -> dict[str, Any]:
    """P(trait) of each cell's student and control, and the lists each trained on."""
    cells = {}
    for cell in CELLS:
        p_student, p_control = (future.result() for future in students[seed, cell])
        n_student, n_control = n_lists[seed, cell]
        cells[cell] = {
            "student": p_student,
            "control": p_control,
            "n_student_lists": n_student,
            "n_control_lists": n_control,
        }
    return {"trait": cfg.controls.trait, "seed": seed, "other_base": other_base, "cells": cells}
