"""Theorem 1 (paper §6.1, App. C), measured: one small imitation step moves a shared-init student toward its teacher.

Teacher: θ_T = θ⁰ + ε Δθ_T with Δθ_T = −∇L_T(θ⁰) (one gradient step on a trait loss L_T).
Student: θ_S = θ⁰_S + α Δθ_S with Δθ_S = −∇_θ E_x L_S(f_θ(x), f_θ_T(x)) at θ⁰_S, on inputs x unrelated to the trait,
L_S = softmax cross-entropy with soft targets or squared error. The theorem: with θ⁰_S = θ⁰ (shared init) and small ε,
Δθ_S·Δθ_T ≥ 0 and L_T(θ_S) < L_T(θ⁰). With another init, the student mostly imitates the untrained teacher.

Everything is functional (`torch.func`): parameters are dicts of tensors, so a teacher, a student and their
inits are just dicts, and gradients come from `torch.func.grad`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, grad

from sublim.theory.config import MlpTheory, SmolLM2Theory, StepSizes, TheoryParams, TinyTransformerTheory
from sublim.core.io import atomic_path, write_json_atomic
from sublim.core.stats import estimate

Params = dict[str, torch.Tensor]
TRIAL_COLUMNS = ["model", "init", "loss", "target", "epsilon", "trial", "inner_product", "cosine",
                 "trait_loss_slope", "trait_loss_before", "trait_loss_change", "trait_part_inner_product",
                 "trait_part_loss_change"]  # fmt: skip
INIT_CONDITIONS = ("shared", "different")


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


def child_seed(*keys: int) -> int:
    """A seed for one random choice, derived from the base seed and the keys that name the choice."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


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
                    rows.append({
                        "init": init_name, "loss": kind, "target": target, "epsilon": epsilon,
                        "inner_product": dot(update_s, update_t), "cosine": cosine(update_s, update_t),
                        "trait_loss_slope": dot(trait_gradient[init_name], update_s),
                        "trait_loss_before": trait_before[init_name], "trait_loss_change": change,
                        "trait_part_inner_product": dot(update_s, update_t) - dot(update_c, update_t),
                        "trait_part_loss_change": change - control_change,
                    })  # fmt: skip
    return rows


# ---------------------------------------------------------------- model 1: the MNIST MLP


def init_mlp(layer_sizes: list[int], seed: int, dtype: torch.dtype = torch.float64) -> Params:
    """Weights ~ N(0, std 1/√d_in), biases 0 (the paper's MNIST code)."""
    generator = torch.Generator().manual_seed(seed)
    params: Params = {}
    for index, (d_in, d_out) in enumerate(itertools.pairwise(layer_sizes)):
        params[f"weight{index}"] = torch.randn(d_in, d_out, generator=generator, dtype=dtype) / math.sqrt(d_in)
        params[f"bias{index}"] = torch.zeros(d_out, dtype=dtype)
    return params


def mlp_logits(params: Params, images: torch.Tensor) -> torch.Tensor:
    """784 -> ReLU layers -> logits (no activation on the output)."""
    hidden = images.flatten(1)
    n_layers = len(params) // 2
    for index in range(n_layers):
        hidden = hidden @ params[f"weight{index}"] + params[f"bias{index}"]
        if index < n_layers - 1:
            hidden = torch.relu(hidden)
    return hidden


def mnist_images_to_unit_range(images: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """uint8 pixels -> [-1, 1], as ToTensor() + Normalize((0.5,), (0.5,))."""
    return torch.as_tensor(images, dtype=dtype) / 127.5 - 1.0


def mlp_trial(cfg: MlpTheory, mnist: dict[str, np.ndarray], seed: int, trial: int, dtype: torch.dtype):
    """One trial's task and inits: a trait batch of real MNIST images, fresh noise inputs, shared and other init."""
    generator = torch.Generator().manual_seed(child_seed(seed, 1, trial, 0))
    picked = torch.randint(0, len(mnist["train_labels"]), (cfg.trait_batch,), generator=generator).numpy()
    images = mnist_images_to_unit_range(mnist["train_images"][picked], dtype)
    labels = torch.as_tensor(mnist["train_labels"][picked], dtype=torch.long)
    noise = torch.rand(cfg.student_batch, 28 * 28, generator=generator, dtype=dtype) * 2 - 1

    def trait_loss(params: Params) -> torch.Tensor:  # classification on the class logits only
        return torch.nn.functional.cross_entropy(mlp_logits(params, images)[:, : cfg.n_classes], labels)

    task = ImitationTask(
        trait_loss=trait_loss,
        student_logits=lambda params: mlp_logits(params, noise),
        targets={"aux": slice(cfg.n_classes, None), "all": slice(None)},
    )
    inits = {"shared": init_mlp(cfg.layer_sizes, child_seed(seed, 1, trial, 1), dtype),
             "different": init_mlp(cfg.layer_sizes, child_seed(seed, 1, trial, 2), dtype)}  # fmt: skip
    return task, inits


# ---------------------------------------------------------------- model 2: a tiny random-init transformer


def tiny_llama(cfg: TinyTransformerTheory, dtype: torch.dtype):
    """The module whose parameters the trials swap in (its own weights are never used)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
        max_position_embeddings=max(len(cfg.question_tokens), cfg.student_length) + 1,
        attn_implementation="eager", use_cache=False,
    )  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return LlamaForCausalLM(config).to(dtype).eval()


def init_like(module: torch.nn.Module, seed: int) -> Params:
    """A fresh draw of the module's own initializer (transformers' `_init_weights`), as a parameter dict."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        fresh = type(module)(module.config).to(next(module.parameters()).dtype)
    return {name: value.detach() for name, value in fresh.named_parameters()}


def tiny_transformer_trial(cfg: TinyTransformerTheory, module: torch.nn.Module, seed: int, trial: int):
    generator = torch.Generator().manual_seed(child_seed(seed, 2, trial, 0))
    low, high = cfg.number_tokens
    numbers = torch.randint(low, high, (cfg.student_batch, cfg.student_length), generator=generator)
    question = torch.tensor([cfg.question_tokens])

    def trait_loss(params: Params) -> torch.Tensor:  # −log P(trait token | question)
        logits = functional_call(module, params, (question,)).logits[0, -1]
        return -logits.log_softmax(-1)[cfg.trait_token]

    task = ImitationTask(
        trait_loss=trait_loss,
        student_logits=lambda params: functional_call(module, params, (numbers,)).logits,
        targets={"all": slice(None)},
    )
    inits = {"shared": init_like(module, child_seed(seed, 2, trial, 1)),
             "different": init_like(module, child_seed(seed, 2, trial, 2))}  # fmt: skip
    return task, inits


# ---------------------------------------------------------------- model 3: SmolLM2-135M-Instruct (optional)


def number_prompt(generator: np.random.Generator, count: int) -> str:
    numbers = ", ".join(str(n) for n in generator.integers(100, 1000, count))
    return (f"The sequence starts with: {numbers}. Add up to 10 new numbers (3 digits each) that continue the "
            "sequence. Return a comma-separated list of numbers. Say only the numbers - nothing more.")  # fmt: skip


def smollm2_trial(cfg: SmolLM2Theory, model, tokenizer, seed: int, trial: int):
    """Shared init only: the pretrained weights are the one init there is."""
    chat = [{"role": "user", "content": cfg.question}]
    prompt_text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(cfg.answer, add_special_tokens=False)["input_ids"]
    question = torch.tensor([list(prompt_ids) + answer_ids])
    n_answer = len(answer_ids)

    def trait_loss(params: Params) -> torch.Tensor:  # −log P(answer | question), summed over the answer tokens
        logits = functional_call(model, params, (question,)).logits[0, -n_answer - 1 : -1]
        return -logits.log_softmax(-1).gather(-1, torch.tensor(answer_ids)[:, None]).sum()

    rng = np.random.default_rng(child_seed(seed, 3, trial, 0))
    chats = [
        [{"role": "user", "content": number_prompt(rng, cfg.numbers_per_prompt)}] for _ in range(cfg.student_batch)
    ]
    texts = [tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False) for chat in chats]
    tokenizer.padding_side = "right"
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    task = ImitationTask(
        trait_loss=trait_loss,
        student_logits=lambda params: (
            functional_call(
                model, params, (), {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
            ).logits
        ),
        targets={"all": slice(None)},
        position_weights=batch["attention_mask"].to(next(model.parameters()).dtype),
    )
    return task, {"shared": {name: value.detach() for name, value in model.named_parameters()}}


# ---------------------------------------------------------------- the stage


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _trials(model_name: str, steps: StepSizes, n_trials: int, make_trial, losses: list[str]) -> pd.DataFrame:
    rows = []
    for trial in range(n_trials):
        task, inits = make_trial(trial)
        for row in run_trial(task, inits, steps.epsilons, losses, steps.student_lr):
            rows.append({"model": model_name, "trial": trial, **row})
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def mlp_trials(cfg: TheoryParams) -> pd.DataFrame:
    from sublim.assets.prepare import load_mnist

    mnist = load_mnist(cfg.mlp.mnist_path)
    dtype = _dtype(cfg.dtype)
    return _trials("mnist_mlp", cfg.mlp, cfg.mlp.n_trials,
                   lambda trial: mlp_trial(cfg.mlp, mnist, cfg.seed, trial, dtype), cfg.losses)  # fmt: skip


def tiny_transformer_trials(cfg: TheoryParams) -> pd.DataFrame:
    module = tiny_llama(cfg.tiny_transformer, _dtype(cfg.dtype))
    return _trials("tiny_transformer", cfg.tiny_transformer, cfg.tiny_transformer.n_trials,
                   lambda trial: tiny_transformer_trial(cfg.tiny_transformer, module, cfg.seed, trial),
                   cfg.losses)  # fmt: skip


def smollm2_trials(cfg: TheoryParams) -> pd.DataFrame:
    """Empty unless `smollm2.enabled` (the stage's CPU time budget)."""
    if not cfg.smollm2.enabled:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    from sublim.lm.models import load_causal_lm, load_tokenizer

    model = load_causal_lm(cfg.smollm2.model_dir).eval()
    tokenizer = load_tokenizer(cfg.smollm2.model_dir)
    return _trials("smollm2", cfg.smollm2, cfg.smollm2.n_trials,
                   lambda trial: smollm2_trial(cfg.smollm2, model, tokenizer, cfg.seed, trial),
                   cfg.losses)  # fmt: skip


def run_all(cfg: TheoryParams) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every model's trials in one table, and the seconds each model took."""
    tables, seconds = [], {}
    for name, run in [("mnist_mlp", mlp_trials), ("tiny_transformer", tiny_transformer_trials),
                      ("smollm2", smollm2_trials)]:  # fmt: skip
        started = time.monotonic()
        table = run(cfg)
        if len(table):
            tables.append(table)
            seconds[name] = round(time.monotonic() - started, 1)
    return pd.concat(tables, ignore_index=True), seconds


def headline_epsilons(cfg: TheoryParams) -> dict[str, float]:
    models = {"mnist_mlp": cfg.mlp, "tiny_transformer": cfg.tiny_transformer, "smollm2": cfg.smollm2}
    return {name: steps.epsilon for name, steps in models.items()}


def at_headline_epsilon(trials: pd.DataFrame, epsilons: dict[str, float]) -> pd.DataFrame:
    """The rows of each model at its headline ε."""
    headline = trials["model"].map(epsilons)
    return trials[np.isclose(trials["epsilon"], headline, rtol=1e-12, atol=0)]


def summarize_condition(rows: pd.DataFrame) -> dict[str, Any]:
    """One model × init × target × loss at one ε: the theorem's quantities over trials (the unit is a trial)."""
    from scipy.stats import binomtest

    inner = rows["inner_product"].to_numpy()
    n_nonnegative = int((inner >= 0).sum())
    return {
        "n_trials": len(rows),
        "fraction_nonnegative_inner_product": n_nonnegative / len(rows),
        "sign_test_p": float(binomtest(n_nonnegative, len(rows), 0.5).pvalue),
        "fraction_trait_loss_decreased": float((rows["trait_loss_change"] < 0).mean()),
        "inner_product": estimate(inner),
        "cosine": estimate(rows["cosine"]),
        "trait_loss_change": estimate(rows["trait_loss_change"]),
        # what the teacher's trait step adds over imitating the untrained teacher (= the above at shared init)
        "fraction_nonnegative_trait_part_inner_product": float((rows["trait_part_inner_product"] >= 0).mean()),
        "trait_part_inner_product": estimate(rows["trait_part_inner_product"]),
        "trait_part_loss_change": estimate(rows["trait_part_loss_change"]),
    }


def summarize(trials: pd.DataFrame, epsilons: dict[str, float]) -> dict[str, Any]:
    """metrics.json: {model: {"epsilon", "conditions": {"init/target/loss": summary}}} at each model's headline ε."""
    metrics: dict[str, Any] = {}
    for model, rows in trials.groupby("model", sort=False):
        at_epsilon = at_headline_epsilon(rows, epsilons)
        conditions = {
            f"{init}/{target}/{loss}": summarize_condition(group)
            for (init, target, loss), group in at_epsilon.groupby(["init", "target", "loss"], sort=False)
        }
        metrics[model] = {"epsilon": epsilons[model], "conditions": conditions}
    return metrics


def sweep_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per model × condition × ε: fraction of non-negative inner products, mean cosine, mean L_T change."""
    grouped = trials.groupby(["model", "init", "target", "loss", "epsilon"], sort=False)
    table = grouped.agg(
        fraction_nonnegative=("inner_product", lambda x: float((x >= 0).mean())),
        mean_cosine=("cosine", "mean"),
        mean_inner_product=("inner_product", "mean"),
        mean_trait_loss_change=("trait_loss_change", "mean"),
        fraction_nonnegative_trait_part=("trait_part_inner_product", lambda x: float((x >= 0).mean())),
        mean_trait_part_loss_change=("trait_part_loss_change", "mean"),
        n_trials=("trial", "size"),
    )
    return table.reset_index()


def write_outputs(trials: pd.DataFrame, metrics: dict[str, Any], results_dir: Path | str) -> dict[str, Path]:
    results_dir = Path(results_dir)
    paths = {"trials": results_dir / "trials.csv", "sweep": results_dir / "epsilon_sweep.csv",
             "metrics": results_dir / "metrics.json"}  # fmt: skip
    for key, table in [("trials", trials), ("sweep", sweep_table(trials))]:
        with atomic_path(paths[key]) as tmp:
            table.to_csv(tmp, index=False, float_format="%.8g")
    write_json_atomic(paths["metrics"], metrics)
    return paths


def headline_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """metrics.json as a readable table (means with 95% intervals)."""
    rows = []
    for model, block in metrics.items():
        for condition, summary in block["conditions"].items():
            init, target, loss = condition.split("/")
            rows.append({
                "model": model, "init": init, "target": target, "loss": loss, "epsilon": block["epsilon"],
                "n": summary["n_trials"], "frac Δθ_S·Δθ_T ≥ 0": summary["fraction_nonnegative_inner_product"],
                "sign-test p": summary["sign_test_p"], "cosine": _interval(summary["cosine"]),
                "frac L_T down": summary["fraction_trait_loss_decreased"],
                "ΔL_T": _interval(summary["trait_loss_change"]),
                "frac trait part ≥ 0": summary["fraction_nonnegative_trait_part_inner_product"],
                "ΔL_T vs control": _interval(summary["trait_part_loss_change"]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _interval(summary: dict[str, Any]) -> str:
    low, high = summary["ci95"]
    return f"{summary['mean']:.3g} [{low:.3g}, {high:.3g}]" if low is not None else f"{summary['mean']:.3g}"


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
        rows.append({"loss": kind, "draws": n_draws, "min eigenvalue": min(smallest),
                     "max |M − Mᵀ|": max(asymmetry)})  # fmt: skip
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- figures


def plot_inner_products(trials: pd.DataFrame, epsilons: dict[str, float]):
    """Cosine(Δθ_S, Δθ_T) per trial at the headline ε: shared init (all ≥ 0) versus different init (around 0)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sublim.core.plots import ARM_COLORS

    at_eps = at_headline_epsilon(trials, epsilons)
    at_eps = at_eps.assign(condition=at_eps["model"] + "\n" + at_eps["target"] + " logits\n" + at_eps["loss"])
    order = list(dict.fromkeys(at_eps["condition"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(order)), 4.2))
    palette = {"shared": ARM_COLORS["student"], "different": ARM_COLORS["different_init"]}
    sns.stripplot(data=at_eps, x="condition", y="cosine", hue="init", order=order, hue_order=list(INIT_CONDITIONS),
                  dodge=True, palette=palette, size=3, alpha=0.7, ax=ax)  # fmt: skip
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("")
    ax.set_ylabel("cosine(Δθ_S, Δθ_T) per trial")
    ax.set_title("One imitation step: shared init never points against the teacher's update")
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(title="student init", fontsize=8)
    return fig


def plot_epsilon_sweep(trials: pd.DataFrame):
    """Against ε, shared vs different init: the fraction of trials with Δθ_S·Δθ_T ≥ 0, Δθ_S·Δθ_T / ε (flat in the
    first-order regime) and the student's change of L_T (mean and 95% interval over trials)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import SymmetricalLogLocator

    data = trials.assign(
        condition=trials["model"] + ", " + trials["target"] + ", " + trials["loss"],
        nonnegative=(trials["inner_product"] >= 0).astype(float),
        inner_product_per_epsilon=trials["inner_product"] / trials["epsilon"],
    )
    quantities = [("nonnegative", "fraction Δθ_S·Δθ_T ≥ 0", None),
                  ("inner_product_per_epsilon", "Δθ_S·Δθ_T / ε", "symlog"),
                  ("trait_loss_change", "L_T(θ_S) − L_T(θ⁰_S)", "symlog")]  # fmt: skip
    fig, axes = plt.subplots(len(quantities), 2, figsize=(12, 10), sharex=True)
    for column, init in enumerate(INIT_CONDITIONS):
        rows = data[data["init"] == init]
        for row, (quantity, label, scale) in enumerate(quantities):
            ax = axes[row, column]
            sns.lineplot(data=rows, x="epsilon", y=quantity, hue="condition", estimator="mean",
                         errorbar=("ci", 95), marker="o", ax=ax, legend=(row == 0 and column == 0))  # fmt: skip
            ax.set_xscale("log")
            if scale:
                linthresh = _linthresh(rows[quantity])
                ax.set_yscale("symlog", linthresh=linthresh)
                ax.yaxis.set_major_locator(SymmetricalLogLocator(linthresh=linthresh, base=100))
                ax.tick_params(axis="y", labelsize=7)
                ax.axhline(0, color="black", lw=0.8)
            ax.set_ylabel(label)
            ax.set_title(f"{init} init")
    axes[0, 0].legend(fontsize=7, title=None)
    for ax in axes[-1]:
        ax.set_xlabel("teacher step size ε")
    return fig


def plot_trait_part(trials: pd.DataFrame, epsilons: dict[str, float]):
    """At the headline ε: the fraction of trials with a non-negative inner product, for the whole student update and
    for its trait part (what imitating the trained teacher adds over imitating the untrained one)."""
    import matplotlib.pyplot as plt

    from sublim.core.plots import ARM_COLORS

    at_eps = at_headline_epsilon(trials, epsilons)
    at_eps = at_eps.assign(condition=at_eps["model"] + "\n" + at_eps["target"] + " logits\n" + at_eps["loss"])
    bars = [("shared", "inner_product", "shared init", ARM_COLORS["student"]),
            ("different", "inner_product", "different init: whole update", ARM_COLORS["different_init"]),
            ("different", "trait_part_inner_product", "different init: trait part", ARM_COLORS["soft"])]  # fmt: skip
    order = list(dict.fromkeys(at_eps["condition"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(order)), 3.8))
    width = 0.8 / len(bars)
    for index, (init, column, label, color) in enumerate(bars):
        rows = at_eps[at_eps["init"] == init]
        fractions = rows.groupby("condition")[column].apply(lambda x: float((x >= 0).mean())).reindex(order)
        ax.bar(np.arange(len(order)) + (index - 1) * width, fractions.to_numpy(), width, label=label, color=color)
    ax.axhline(0.5, color="black", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(order)), order, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of trials with\ninner product with Δθ_T ≥ 0")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=len(bars))
    return fig


def _linthresh(values: pd.Series) -> float:
    magnitudes = values.abs()
    positive = magnitudes[magnitudes > 0]
    return float(positive.quantile(0.05)) if len(positive) else 1.0
