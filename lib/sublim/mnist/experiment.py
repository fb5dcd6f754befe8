"""The MNIST analogue of subliminal learning (paper §6.2, Fig. 10): the six arms and the sweeps around them.

A teacher MLP (784 -> w -> w -> 10 + m) learns MNIST on its 10 class logits; its m auxiliary logits
are never trained. A student that starts from the teacher's *initial* weights and only imitates the
teacher's auxiliary logits on uniform noise images still learns to classify digits; a student from a
different init does not. Every model is one slice of a `BatchedMLP` (sublim.mnist.model), so all the
students of a run train together as one network (sublim.mnist.train).

Runs: `run_main` (the six arms of Fig. 10) and `run_sweeps` (loss, m, init noise sigma, width).
Outputs and figures: sublim.mnist.outputs and sublim.mnist.figures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sublim.core.runtime import keep_freed_memory, report_timings
from sublim.core.seeds import torch_generator
from sublim.mnist.config import MnistParams
from sublim.mnist.data import MnistData
from sublim.mnist.model import (
    BatchedMLP,
    all_logits,
    aux_logits,
    compute_dtype,
    concat,
    init_reference,
    perturbed,
    resolve_precision,
    with_aux_from,
)
from sublim.mnist.train import StudentGroup, accuracy, distill, logits_on, train_classifier

ARMS = ("reference", "teacher", "student_aux", "student_all", "xmodel_aux", "xmodel_all")


def derangement(n: int, gen: torch.Generator) -> list[int]:
    """A uniformly random permutation with no fixed point (rejection sampling, ~e tries).

    The official code used a plain permutation, which pairs about one 'cross-model' student with
    its own init; a derangement makes every cross-model pair truly cross-model.
    """
    if n < 2:
        raise ValueError(f"a derangement needs n >= 2, got {n}")
    identity = torch.arange(n)
    while True:
        perm = torch.randperm(n, generator=gen)
        if not bool((perm == identity).any()):
            return perm.tolist()


# ---------------------------------------------------------------- the six arms of Fig. 10


@dataclass
class MainRun:
    """Per-model accuracies of the six arms and the models kept for the sweeps (timings: `report_timings`)."""

    accuracies: dict[str, np.ndarray]
    xmodel_init: list[int]  # cross-model student i starts from reference init xmodel_init[i]
    reference: BatchedMLP
    teacher: BatchedMLP
    precision: str  # the matmul precision it ran in: mnist.precision, 'auto' resolved for the device


def distill_arms(
    cfg: MnistParams,
    reference: BatchedMLP,
    teacher: BatchedMLP,
    data: MnistData,
    arms: Sequence[tuple[str, list[int], list[int], str]],
) -> dict[str, np.ndarray]:
    """Distil one batched block of students per arm (name, init index into reference, logits, loss).

    Student j of every arm imitates teacher j; all arms train together as one network.
    """
    n = teacher.n_models
    students = concat([reference.select(init) for _, init, _, _ in arms])
    groups = [StudentGroup(name, k * n, (k + 1) * n, logits, loss) for k, (name, _, logits, loss) in enumerate(arms)]
    targets = logits_on(teacher, data.noise_x)
    distill(
        students,
        targets,
        teacher_index=list(range(n)) * len(arms),
        groups=groups,
        noise=data.noise_x,
        epochs=cfg.student_epochs,
        lr=cfg.learning_rate,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
    )
    acc = accuracy(students, data.test_x, data.test_y)
    return {g.name: acc[g.start : g.stop] for g in groups}


def run_main(cfg: MnistParams, data: MnistData, device: str) -> MainRun:
    """Reference, teacher and the four students of Fig. 10, for `cfg.n_models` models at once; the seconds of the
    teachers and of the students go to the run record (`report_timings`)."""
    keep_freed_memory()  # no page faults on the per-step activations (see its docstring)
    started = time.monotonic()
    ids = list(range(cfg.n_models))
    precision = resolve_precision(cfg.precision, device)
    reference = init_reference(ids, cfg.hidden_width, cfg.n_aux_logits, cfg.seed, device, compute_dtype(precision))
    teacher = train_classifier(
        reference.select(ids), data, cfg.teacher_epochs, cfg.learning_rate, cfg.batch_size, cfg.seed
    )
    teacher_s = time.monotonic() - started
    perm = derangement(cfg.n_models, torch_generator(cfg.seed, 0, 12))
    aux, every = aux_logits(cfg.n_aux_logits), all_logits(cfg.n_aux_logits)
    arms = [
        ("student_aux", ids, aux, cfg.distill_loss),
        ("student_all", ids, every, cfg.distill_loss),
        ("xmodel_aux", perm, aux, cfg.distill_loss),
        ("xmodel_all", perm, every, cfg.distill_loss),
    ]
    students = distill_arms(cfg, reference, teacher, data, arms)
    report_timings(main_teacher_s=teacher_s, main_students_s=time.monotonic() - started - teacher_s)
    accuracies = {
        "reference": accuracy(reference, data.test_x, data.test_y),
        "teacher": accuracy(teacher, data.test_x, data.test_y),
        **students,
    }
    return MainRun(accuracies, perm, reference, teacher, precision)


# ---------------------------------------------------------------- sweeps around the main setting


@dataclass
class Sweep:
    """One swept factor: per value, per arm, the per-model accuracies."""

    name: str
    values: list[Any]
    accuracies: dict[Any, dict[str, np.ndarray]]


def sweep_loss(cfg: MnistParams, data: MnistData, main: MainRun) -> dict[Any, dict[str, np.ndarray]]:
    k, sw = cfg.sweeps.n_models, cfg.sweeps
    ids, perm = list(range(k)), derangement(k, torch_generator(cfg.seed, 0, 13))
    aux = aux_logits(cfg.n_aux_logits)
    arms = [
        (f"{arm}@{loss}", init, aux, loss)
        for loss in sw.losses
        for arm, init in (("student_aux", ids), ("xmodel_aux", perm))
    ]
    acc = distill_arms(cfg, main.reference.select(ids), main.teacher.select(ids), data, arms)
    return {loss: {arm: acc[f"{arm}@{loss}"] for arm in ("student_aux", "xmodel_aux")} for loss in sw.losses}


def sweep_n_aux(cfg: MnistParams, data: MnistData, main: MainRun, device: str) -> dict[Any, dict[str, np.ndarray]]:
    """All m at once (student_aux arm): networks with max(m) aux columns, each block imitating its first m.

    The unused columns of a block get no gradient and feed nothing back, so a block is exactly a network with m.
    """
    k, values = cfg.sweeps.n_models, cfg.sweeps.n_aux_logits
    ids = list(range(k))
    dtype = compute_dtype(main.precision)
    reference = init_reference(ids, cfg.hidden_width, max(values), cfg.seed, device, dtype)
    teacher = with_aux_from(main.teacher.select(ids), reference)
    arms = [(f"student_aux@{m}", ids, aux_logits(m), cfg.distill_loss) for m in values]
    acc = distill_arms(cfg, reference, teacher, data, arms)
    return {m: {"student_aux": acc[f"student_aux@{m}"]} for m in values}


def sweep_sigma(cfg: MnistParams, data: MnistData, main: MainRun) -> dict[Any, dict[str, np.ndarray]]:
    """The student starts from its teacher's init plus Gaussian noise of size sigma (student_aux arm)."""
    k, sw = cfg.sweeps.n_models, cfg.sweeps
    ids = list(range(k))
    reference, teacher = main.reference.select(ids), main.teacher.select(ids)
    # the same noise direction for every sigma (common random numbers): only its size changes along the curve
    inits = [perturbed(reference, sigma, sw.sigma_scale, cfg.seed, ids) for sigma in sw.sigmas]
    aux = aux_logits(cfg.n_aux_logits)
    arms = [(f"student_aux@{i}", list(range(i * k, (i + 1) * k)), aux, cfg.distill_loss) for i in range(len(sw.sigmas))]
    acc = distill_arms(cfg, concat(inits), teacher, data, arms)
    return {sigma: {"student_aux": acc[f"student_aux@{i}"]} for i, sigma in enumerate(sw.sigmas)}


def sweep_width(cfg: MnistParams, data: MnistData, device: str) -> dict[Any, dict[str, np.ndarray]]:
    """New teachers per hidden width (same seeds), then the student_aux arm."""
    k = cfg.sweeps.n_models
    ids = list(range(k))
    aux = aux_logits(cfg.n_aux_logits)
    dtype = compute_dtype(resolve_precision(cfg.precision, device))
    out = {}
    for width in cfg.sweeps.hidden_widths:
        reference = init_reference(ids, width, cfg.n_aux_logits, cfg.seed, device, dtype)
        teacher = train_classifier(
            reference.select(ids), data, cfg.teacher_epochs, cfg.learning_rate, cfg.batch_size, cfg.seed
        )
        arms = [("student_aux", ids, aux, cfg.distill_loss)]
        out[width] = {
            "teacher": accuracy(teacher, data.test_x, data.test_y),
            **distill_arms(cfg, reference, teacher, data, arms),
        }
    return out


def run_sweeps(cfg: MnistParams, data: MnistData, main: MainRun, device: str) -> list[Sweep]:
    """Every sweep with a non-empty value list, each around the main setting; each one's seconds go to the run
    record (`report_timings`)."""
    plan = [
        ("loss", cfg.sweeps.losses, lambda: sweep_loss(cfg, data, main)),
        ("n_aux_logits", cfg.sweeps.n_aux_logits, lambda: sweep_n_aux(cfg, data, main, device)),
        ("sigma", cfg.sweeps.sigmas, lambda: sweep_sigma(cfg, data, main)),
        ("hidden_width", cfg.sweeps.hidden_widths, lambda: sweep_width(cfg, data, device)),
    ]
    sweeps = []
    for name, values, run in plan:
        if values:
            started = time.monotonic()
            sweeps.append(Sweep(name, list(values), run()))
            report_timings(**{f"sweep_{name}_s": time.monotonic() - started})
    return sweeps
