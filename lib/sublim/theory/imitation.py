"""Theorem 1 (paper §6.1, App. C), measured: one small imitation step moves a shared-init student toward its teacher.

Teacher: θ_T = θ⁰ + ε Δθ_T with Δθ_T = −∇L_T(θ⁰) (one gradient step on a trait loss L_T).
Student: θ_S = θ⁰_S + α Δθ_S with Δθ_S = −∇_θ E_x L_S(f_θ(x), f_θ_T(x)) at θ⁰_S, on inputs x unrelated to the trait,
L_S = softmax cross-entropy with soft targets or squared error. The theorem: with θ⁰_S = θ⁰ (shared init) and small ε,
Δθ_S·Δθ_T ≥ 0 and L_T(θ_S) < L_T(θ⁰). With another init, the student mostly imitates the untrained teacher.

Everything is functional (`torch.func`): parameters are dicts of tensors, so a teacher, a student and their
inits are just dicts, and gradients come from `torch.func.grad`. The networks measured are in sublim.theory.models.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch.func import grad

Params = dict[str, torch.Tensor]


# ---------------------------------------------------------------- parameter-dict arithmetic


def add_scaled(base: Params, direction: Params, scale: float) -> Params:
    """base + scale * direction, leaf by leaf."""
    return {name: base[name] + scale * direction[name] for name in base}


def dot(a: Params, b: Params) -> float:
    return float(sum((a[name].double() * b[name].double()).sum() for name in a))


def norm(a: Params) -> float:
    return math.sqrt(dot(a, a))


def cosine(a: Params, b: Params) -> float:
    denominator = norm(a) * norm(b)
    return dot(a, b) / denominator if denominator > 0 else 0.0


# ---------------------------------------------------------------- the imitation loss and its PSD matrix


def imitation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, kind: str, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """L_S averaged over examples (and positions): soft-target cross-entropy, or squared error averaged over logits.

    `weights` (same shape as the logits without the last axis) masks padded positions.
    """
    if kind == "cross_entropy":
        per_position = -(teacher_logits.softmax(-1) * student_logits.log_softmax(-1)).sum(-1)
    elif kind == "squared_error":
        per_position = (student_logits - teacher_logits).pow(2).mean(-1)
    else:
        raise ValueError(f"unknown imitation loss {kind!r}; use cross_entropy or squared_error")
    if weights is None:
        return per_position.mean()
    return (per_position * weights).sum() / weights.sum()


def cross_hessian(kind: str, teacher_logits: torch.Tensor) -> torch.Tensor:
    """M = −∂²L_S/∂y∂z at z = y for one example: the matrix the proof needs to be positive semi-definite.

    For cross-entropy it is diag(p) − p pᵀ with p = softmax(y) (the covariance of a one-hot categorical);
    for squared error (mean over the n logits) it is (2/n)·I.
    """
    y = teacher_logits.detach()

    def grad_wrt_student(teacher: torch.Tensor) -> torch.Tensor:
        return grad(lambda z: imitation_loss(z, teacher, kind))(y.clone())

    return -torch.func.jacrev(grad_wrt_student)(y).T


def psd_check(n_logits: int = 5, n_draws: int = 200, seed: int = 0) -> pd.DataFrame:
    """Smallest eigenvalue of M = −∂²L_S/∂y∂z over random logits y, and whether M is symmetric: the proof's lemma."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for kind in ("cross_entropy", "squared_error"):
        smallest, asymmetry = [], []
        for _ in range(n_draws):
            y = torch.randn(n_logits, generator=generator, dtype=torch.float64) * 3
            matrix = cross_hessian(kind, y)
            smallest.append(float(torch.linalg.eigvalsh((matrix + matrix.T) / 2)[0]))
            asymmetry.append(float((matrix - matrix.T).abs().max()))
        rows.append({"loss": kind, "draws": n_draws, "min eigenvalue": min(smallest), "max |M − Mᵀ|": max(asymmetry)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- one trial


@dataclass(frozen=True)
class ImitationTask:
    """What one trial needs: the trait loss and the student's view of the network.

    `student_logits(params)` gives the logits on the student's (trait-free) inputs; `targets` maps a name to the
    slice of the last logit axis that is imitated (e.g. the MNIST aux logits only, or all of them).
    """

    trait_loss: Callable[[Params], torch.Tensor]
    student_logits: Callable[[Params], torch.Tensor]
    targets: dict[str, slice]
    position_weights: torch.Tensor | None = None


def teacher_update(task: ImitationTask, init: Params) -> Params:
    """Δθ_T = −∇L_T(θ⁰)."""
    return {name: -g for name, g in grad(task.trait_loss)(init).items()}


def student_update(
    task: ImitationTask, student_init: Params, teacher_logits: torch.Tensor, target: str, kind: str
) -> Params:
    """Δθ_S = −∇_θ E_x L_S(f_θ(x), f_θ_T(x)) at the student's init, on the imitated logits `target`."""
    columns = task.targets[target]
    labels = teacher_logits[..., columns]

    def loss(params: Params) -> torch.Tensor:
        return imitation_loss(task.student_logits(params)[..., columns], labels, kind, task.position_weights)

    return {name: -g for name, g in grad(loss)(student_init).items()}


def run_trial(
    task: ImitationTask,
    inits: dict[str, Params],
    epsilons: Iterable[float],
    losses: Iterable[str],
    student_lr: float,
) -> list[dict[str, Any]]:
    """Every (ε, init condition, imitated target, L_S) of one trial; the teacher always starts from inits['shared'].

    Rows hold Δθ_S·Δθ_T, their cosine, the slope ∇L_T(θ⁰_S)·Δθ_S (L_T's first-order change per unit α; equal to
    −Δθ_S·Δθ_T at shared init) and the actual change L_T(θ⁰_S + αΔθ_S) − L_T(θ⁰_S). The control is the same
    student imitating the untrained teacher (ε = 0): its update is 0 (up to rounding) at shared init, but not at a
    different init, so the `trait_part_*` columns isolate what the teacher's trait step adds:
    (Δθ_S(ε) − Δθ_S(0))·Δθ_T and L_T(θ⁰_S + αΔθ_S(ε)) − L_T(θ⁰_S + αΔθ_S(0)).
    """
    teacher_init = inits["shared"]
    update_t = teacher_update(task, teacher_init)
    trait_gradient = {name: grad(task.trait_loss)(init) for name, init in inits.items() if name != "shared"}
    trait_gradient["shared"] = {name: -value for name, value in update_t.items()}
    trait_before = {name: float(task.trait_loss(init)) for name, init in inits.items()}
    with torch.no_grad():
        untrained_logits = task.student_logits(teacher_init)
    control: dict[tuple[str, str, str], tuple[Params, float]] = {}
    for init_name, init in inits.items():
        for target in task.targets:
            for kind in losses:
                if init_name == "shared":  # imitating itself: the gradient is zero (up to rounding)
                    control[init_name, target, kind] = ({k: torch.zeros_like(v) for k, v in init.items()}, 0.0)
                    continue
                update_c = student_update(task, init, untrained_logits, target, kind)
                with torch.no_grad():
                    change = float(task.trait_loss(add_scaled(init, update_c, student_lr))) - trait_before[init_name]
                control[init_name, target, kind] = (update_c, change)
    rows = []
    for epsilon in epsilons:
        with torch.no_grad():
            teacher_logits = task.student_logits(add_scaled(teacher_init, update_t, epsilon))
        for init_name, init in inits.items():
            for target in task.targets:
                for kind in losses:
                    update_s = student_update(task, init, teacher_logits, target, kind)
                    with torch.no_grad():
                        change = (
                            float(task.trait_loss(add_scaled(init, update_s, student_lr))) - trait_before[init_name]
                        )
                    update_c, control_change = control[init_name, target, kind]
                    rows.append(
                        {
                            "init": init_name,
                            "loss": kind,
                            "target": target,
                            "epsilon": epsilon,
                            "inner_product": dot(update_s, update_t),
                            "cosine": cosine(update_s, update_t),
                            "trait_loss_slope": dot(trait_gradient[init_name], update_s),
                            "trait_loss_before": trait_before[init_name],
                            "trait_loss_change": change,
                            "trait_part_inner_product": dot(update_s, update_t) - dot(update_c, update_t),
                            "trait_part_loss_change": change - control_change,
                        }
                    )
    return rows
