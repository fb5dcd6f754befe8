"""The figures of the theory stage: per-trial cosines, the trait part's sign, and the sweep over ε."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import SymmetricalLogLocator

from sublim.core.plots import ARM_COLORS, FIGURE_SEED, seeded_jitter
from sublim.theory.experiment import at_headline_epsilon

INIT_CONDITIONS = ("shared", "different")


def plot_inner_products(trials: pd.DataFrame, epsilons: dict[str, float]) -> plt.Figure:
    """Cosine(Δθ_S, Δθ_T) per trial at the headline ε: shared init (all ≥ 0) versus different init (around 0)."""
    at_eps = at_headline_epsilon(trials, epsilons)
    at_eps = at_eps.assign(condition=at_eps["model"] + "\n" + at_eps["target"] + " logits\n" + at_eps["loss"])
    order = list(dict.fromkeys(at_eps["condition"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(order)), 4.2))
    palette = {"shared": ARM_COLORS["student"], "different": ARM_COLORS["different_init"]}
    with seeded_jitter():
        sns.stripplot(
            data=at_eps,
            x="condition",
            y="cosine",
            hue="init",
            order=order,
            hue_order=list(INIT_CONDITIONS),
            dodge=True,
            palette=palette,
            size=3,
            alpha=0.7,
            ax=ax,
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("")
    ax.set_ylabel("cosine(Δθ_S, Δθ_T) per trial")
    ax.set_title("One imitation step: shared init never points against the teacher's update")
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(title="student init", fontsize=8)
    return fig


def plot_epsilon_sweep(trials: pd.DataFrame) -> plt.Figure:
    """Against ε, shared vs different init: the fraction of trials with Δθ_S·Δθ_T ≥ 0, Δθ_S·Δθ_T / ε (flat in the
    first-order regime) and the student's change of L_T (mean and 95% interval over trials)."""
    data = trials.assign(
        condition=trials["model"] + ", " + trials["target"] + ", " + trials["loss"],
        nonnegative=(trials["inner_product"] >= 0).astype(float),
        inner_product_per_epsilon=trials["inner_product"] / trials["epsilon"],
    )
    quantities = [
        ("nonnegative", "fraction Δθ_S·Δθ_T ≥ 0", None),
        ("inner_product_per_epsilon", "Δθ_S·Δθ_T / ε", "symlog"),
        ("trait_loss_change", "L_T(θ_S) − L_T(θ⁰_S)", "symlog"),
    ]
    fig, axes = plt.subplots(len(quantities), 2, figsize=(12, 10), sharex=True)
    for column, init in enumerate(INIT_CONDITIONS):
        rows = data[data["init"] == init]
        for row, (quantity, label, scale) in enumerate(quantities):
            ax = axes[row, column]
            sns.lineplot(
                data=rows,
                x="epsilon",
                y=quantity,
                hue="condition",
                estimator="mean",
                errorbar=("ci", 95),
                seed=FIGURE_SEED,
                marker="o",
                ax=ax,
                legend=(row == 0 and column == 0),
            )
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


def plot_trait_part(trials: pd.DataFrame, epsilons: dict[str, float]) -> plt.Figure:
    """At the headline ε: the fraction of trials with a non-negative inner product, for the whole student update and
    for its trait part (what imitating the trained teacher adds over imitating the untrained one)."""
    at_eps = at_headline_epsilon(trials, epsilons)
    at_eps = at_eps.assign(condition=at_eps["model"] + "\n" + at_eps["target"] + " logits\n" + at_eps["loss"])
    bars = [
        ("shared", "inner_product", "shared init", ARM_COLORS["student"]),
        ("different", "inner_product", "different init: whole update", ARM_COLORS["different_init"]),
        ("different", "trait_part_inner_product", "different init: trait part", ARM_COLORS["soft"]),
    ]
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
