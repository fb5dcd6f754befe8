"""The theory stage: every model's trials in one table, their summary at each model's headline ε, and the files.

One row per trial × ε × init × imitated logits × loss (`TRIAL_COLUMNS`); the theorem's quantities are defined in
sublim.theory.imitation and the networks in sublim.theory.models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import binomtest

from sublim.assets.mnist import load_mnist
from sublim.core.io import atomic_path, write_json_atomic
from sublim.core.runtime import report_timings
from sublim.core.stats import estimate
from sublim.lm.models import load_causal_lm, load_tokenizer
from sublim.theory.config import StepSizes, TheoryParams
from sublim.theory.imitation import ImitationTask, Params, run_trial
from sublim.theory.models import mlp_trial, smollm2_trial, tiny_llama, tiny_transformer_trial

TRIAL_COLUMNS = [
    "model",
    "init",
    "loss",
    "target",
    "epsilon",
    "trial",
    "inner_product",
    "cosine",
    "trait_loss_slope",
    "trait_loss_before",
    "trait_loss_change",
    "trait_part_inner_product",
    "trait_part_loss_change",
]


# ---------------------------------------------------------------- the trials


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _trials(
    model_name: str,
    steps: StepSizes,
    n_trials: int,
    make_trial: Callable[[int], tuple[ImitationTask, dict[str, Params]]],
    losses: list[str],
) -> pd.DataFrame:
    rows = []
    for trial in range(n_trials):
        task, inits = make_trial(trial)
        for row in run_trial(task, inits, steps.epsilons, losses, steps.student_lr):
            rows.append({"model": model_name, "trial": trial, **row})
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def mlp_trials(cfg: TheoryParams) -> pd.DataFrame:
    mnist = load_mnist(cfg.mlp.mnist_path)
    dtype = _dtype(cfg.dtype)
    return _trials(
        "mnist_mlp",
        cfg.mlp,
        cfg.mlp.n_trials,
        lambda trial: mlp_trial(cfg.mlp, mnist, cfg.seed, trial, dtype),
        cfg.losses,
    )


def tiny_transformer_trials(cfg: TheoryParams) -> pd.DataFrame:
    module = tiny_llama(cfg.tiny_transformer, _dtype(cfg.dtype))
    return _trials(
        "tiny_transformer",
        cfg.tiny_transformer,
        cfg.tiny_transformer.n_trials,
        lambda trial: tiny_transformer_trial(cfg.tiny_transformer, module, cfg.seed, trial),
        cfg.losses,
    )


def smollm2_trials(cfg: TheoryParams) -> pd.DataFrame:
    """Empty unless `smollm2.enabled` (the stage's CPU time budget)."""
    if not cfg.smollm2.enabled:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    model = load_causal_lm(cfg.smollm2.model_dir).eval()
    tokenizer = load_tokenizer(cfg.smollm2.model_dir)
    return _trials(
        "smollm2",
        cfg.smollm2,
        cfg.smollm2.n_trials,
        lambda trial: smollm2_trial(cfg.smollm2, model, tokenizer, cfg.seed, trial),
        cfg.losses,
    )


def run_all(cfg: TheoryParams) -> pd.DataFrame:
    """Every model's trials in one table; the seconds each model took go to the run record (`report_timings`)."""
    tables = []
    runs = [("mnist_mlp", mlp_trials), ("tiny_transformer", tiny_transformer_trials), ("smollm2", smollm2_trials)]
    for name, run in runs:
        started = time.monotonic()
        table = run(cfg)
        if len(table):
            tables.append(table)
            report_timings(**{f"{name}_s": time.monotonic() - started})
    return pd.concat(tables, ignore_index=True)


# ---------------------------------------------------------------- summaries at the headline ε


def headline_epsilons(cfg: TheoryParams) -> dict[str, float]:
    models = {"mnist_mlp": cfg.mlp, "tiny_transformer": cfg.tiny_transformer, "smollm2": cfg.smollm2}
    return {name: steps.epsilon for name, steps in models.items()}


def at_headline_epsilon(trials: pd.DataFrame, epsilons: dict[str, float]) -> pd.DataFrame:
    """The rows of each model at its headline ε."""
    headline = trials["model"].map(epsilons)
    return trials[np.isclose(trials["epsilon"], headline, rtol=1e-12, atol=0)]


def summarise_condition(rows: pd.DataFrame) -> dict[str, Any]:
    """One model × init × target × loss at one ε: the theorem's quantities over trials (the unit is a trial)."""
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


def summarise(trials: pd.DataFrame, epsilons: dict[str, float]) -> dict[str, Any]:
    """metrics.json: {model: {"epsilon", "conditions": {"init/target/loss": summary}}} at each model's headline ε."""
    metrics: dict[str, Any] = {}
    for model, rows in trials.groupby("model", sort=False):
        at_epsilon = at_headline_epsilon(rows, epsilons)
        conditions = {
            f"{init}/{target}/{loss}": summarise_condition(group)
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
    """trials.csv, epsilon_sweep.csv and metrics.json."""
    results_dir = Path(results_dir)
    paths = {
        "trials": results_dir / "trials.csv",
        "sweep": results_dir / "epsilon_sweep.csv",
        "metrics": results_dir / "metrics.json",
    }
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
            rows.append(
                {
                    "model": model,
                    "init": init,
                    "target": target,
                    "loss": loss,
                    "epsilon": block["epsilon"],
                    "n": summary["n_trials"],
                    "frac Δθ_S·Δθ_T ≥ 0": summary["fraction_nonnegative_inner_product"],
                    "sign-test p": summary["sign_test_p"],
                    "cosine": _interval(summary["cosine"]),
                    "frac L_T down": summary["fraction_trait_loss_decreased"],
                    "ΔL_T": _interval(summary["trait_loss_change"]),
                    "frac trait part ≥ 0": summary["fraction_nonnegative_trait_part_inner_product"],
                    "ΔL_T vs control": _interval(summary["trait_part_loss_change"]),
                }
            )
    return pd.DataFrame(rows)


def _interval(summary: dict[str, Any]) -> str:
    low, high = summary["ci95"]
    return f"{summary['mean']:.3g} [{low:.3g}, {high:.3g}]" if low is not None else f"{summary['mean']:.3g}"
