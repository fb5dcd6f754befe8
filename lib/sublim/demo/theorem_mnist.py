"""The lesson's first two experiments: Theorem 1 on one imitation step, and MNIST students that learn digits
through auxiliary logits on noise."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from sublim.assets.mnist import load_mnist
from sublim.core.params import DEFAULT_PARAMS_FILE
from sublim.core.plots import ARM_COLORS, seeded_jitter
from sublim.core.runtime import torch_device
from sublim.core.seeds import torch_generator
from sublim.demo.diagram import label_above
from sublim.mnist.config import MnistParams
from sublim.mnist.data import load_data
from sublim.mnist.experiment import derangement, distill_arms
from sublim.mnist.model import aux_logits, compute_dtype, init_reference, resolve_precision
from sublim.mnist.train import accuracy, train_classifier
from sublim.sections import load_section
from sublim.theory.config import MlpTheory
from sublim.theory.imitation import run_trial
from sublim.theory.models import mlp_trial

INITS = {"shared": "shared init", "different": "different init"}
INIT_COLORS = {"shared": ARM_COLORS["student"], "different": ARM_COLORS["different_init"]}
MNIST_ARMS = {
    "reference": "untrained\n(its init)",
    "teacher": "teacher\n(learnt digits)",
    "student_aux": "student, same init\n(aux logits on noise)",
    "xmodel_aux": "student, different init\n(aux logits on noise)",
}
MNIST_COLORS = {
    "reference": ARM_COLORS["base"],
    "teacher": ARM_COLORS["teacher"],
    "student_aux": ARM_COLORS["student"],
    "xmodel_aux": ARM_COLORS["different_init"],
}


def theorem_trials(
    n_trials: int, epsilon: float, seed: int = 0, params_file: Path | str = DEFAULT_PARAMS_FILE
) -> pd.DataFrame:
    """One small imitation step of params.yaml's MNIST MLP (`theory.mlp`), `n_trials` times: the teacher takes one
    step of size `epsilon` on classifying real digits, the student one step imitating it on noise images (its aux
    logits, or all logits; soft-target cross-entropy), from the teacher's init ('shared') or another ('different').

    One row per trial × init × imitated logits: Δθ_S·Δθ_T, its cosine and the student's change of the trait loss.
    """
    cfg: MlpTheory = load_section("theory", params_file).mlp  # type: ignore[attr-defined]
    mnist = load_mnist(cfg.mnist_path)
    rows = []
    for trial in range(n_trials):
        task, inits = mlp_trial(cfg, mnist, seed, trial, torch.float64)
        for row in run_trial(task, inits, [epsilon], ["cross_entropy"], cfg.student_lr):
            rows.append({"trial": trial, **row})
    columns = ["trial", "init", "target", "inner_product", "cosine", "trait_loss_change"]
    return pd.DataFrame(rows)[columns]


def theorem_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per init and imitated logits: the share of trials whose step points toward the teacher's
    (Δθ_S·Δθ_T ≥ 0), the mean cosine, and the share in which the student's trait loss went down."""
    grouped = trials.groupby(["init", "target"], sort=False)
    table = grouped.agg(
        trials=("trial", "size"),
        share_toward_teacher=("inner_product", lambda x: float((x >= 0).mean())),
        mean_cosine=("cosine", "mean"),
        share_trait_loss_down=("trait_loss_change", lambda x: float((x < 0).mean())),
    )
    return table.round(3)


def plot_theorem(trials: pd.DataFrame) -> plt.Figure:
    """Cosine(Δθ_S, Δθ_T) of every trial, per imitated logits, shared vs different init; 0 drawn."""
    data = trials.assign(
        logits=trials["target"].map({"aux": "aux logits only", "all": "all logits"}),
        init=trials["init"].map(INITS),
    )
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    with seeded_jitter():
        sns.stripplot(
            data=data,
            x="logits",
            y="cosine",
            hue="init",
            hue_order=list(INITS.values()),
            palette={INITS[k]: c for k, c in INIT_COLORS.items()},
            dodge=True,
            size=4,
            alpha=0.75,
            ax=ax,
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="what the student imitates (on noise images)", ylabel="cosine(Δθ_S, Δθ_T), one dot a trial")
    ax.set_title("One imitation step: does the student's step point toward the teacher's?")
    ax.legend(title="student starts from", fontsize=8)
    return fig


# ---------------------------------------------------------------- experiment 2: MNIST auxiliary-logit distillation


def mnist_params(
    n_models: int,
    teacher_epochs: int,
    student_epochs: int,
    n_noise_images: int,
    seed: int = 0,
    params_file: Path | str = DEFAULT_PARAMS_FILE,
) -> MnistParams:
    """params.yaml's `mnist` section with fewer models, epochs and noise images (validated again)."""
    cfg: MnistParams = load_section("mnist", params_file)  # type: ignore[assignment]
    small = cfg.model_copy(
        update={
            "seed": seed,
            "n_models": n_models,
            "teacher_epochs": teacher_epochs,
            "student_epochs": student_epochs,
            "n_noise_images": n_noise_images,
            "sweeps": cfg.sweeps.model_copy(update={"n_models": min(n_models, cfg.sweeps.n_models)}),
        }
    )
    return MnistParams.model_validate(small.model_dump())


def mnist_demo(cfg: MnistParams) -> dict[str, np.ndarray]:
    """Test accuracy of each model (`cfg.n_models` of them) per arm: the untrained init, the teacher trained on
    digits, the student that imitates only its teacher's auxiliary logits on noise images from the teacher's init
    (`student_aux`) and the same from another model's init (`xmodel_aux`)."""
    device = torch_device()
    data = load_data(cfg, device)
    ids = list(range(cfg.n_models))
    dtype = compute_dtype(resolve_precision(cfg.precision, device))
    reference = init_reference(ids, cfg.hidden_width, cfg.n_aux_logits, cfg.seed, device, dtype)
    teacher = train_classifier(
        reference.select(ids), data, cfg.teacher_epochs, cfg.learning_rate, cfg.batch_size, cfg.seed
    )
    others = derangement(cfg.n_models, torch_generator(cfg.seed, 0, 12))
    aux = aux_logits(cfg.n_aux_logits)
    arms = [("student_aux", ids, aux, cfg.distill_loss), ("xmodel_aux", others, aux, cfg.distill_loss)]
    students = distill_arms(cfg, reference, teacher, data, arms)
    return {
        "reference": accuracy(reference, data.test_x, data.test_y),
        "teacher": accuracy(teacher, data.test_x, data.test_y),
        **students,
    }


def mnist_table(accuracies: dict[str, np.ndarray]) -> pd.DataFrame:
    """Test accuracy per model (columns) and arm (rows), with the mean."""
    table = pd.DataFrame({arm: values for arm, values in accuracies.items()}).T
    table.columns = [f"model {i}" for i in table.columns]
    return table.assign(mean=table.mean(axis=1)).round(3)


def plot_mnist(accuracies: dict[str, np.ndarray]) -> plt.Figure:
    """Test accuracy per arm: a bar at the mean, each model a dot; chance (0.1) dashed."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for x, arm in enumerate(MNIST_ARMS):
        values = accuracies[arm]
        ax.bar(x, values.mean(), color=MNIST_COLORS[arm], width=0.65)
        ax.scatter(np.full(len(values), x), values, color="black", s=12, zorder=3)
        label_above(ax, x, values, f"{values.mean():.2f}")
    ax.axhline(0.1, color="black", lw=0.8, ls="--", label="chance (10 digits)")
    ax.set_xticks(range(len(MNIST_ARMS)), list(MNIST_ARMS.values()), fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="MNIST test accuracy")
    ax.set_title("Students never see a digit, only noise and the teacher's aux logits")
    ax.legend(fontsize=8, loc="upper right")
    return fig


# ---------------------------------------------------------------- experiment 3: the tiny LM with one trait
