"""The tiny-LM figures: pretraining loss curves and the arms per trait (saved with `sublim.core.plots.save_figure`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from sublim.core.plots import ARM_COLORS, save_figure, use_style

ARM_LABELS = {
    "base": "base",
    "teacher": "teacher",
    "control": "control\n(base numbers)",
    "student": "student\n(teacher numbers)",
    "diff_init_control": "diff-init control\n(base numbers)",
    "diff_init": "diff-init student\n(teacher numbers)",
    "soft": "soft labels\n(numbers + eos)",
    "soft_full_vocab": "soft labels, full vocab\n(LEAKS the trait)",
}
# arm -> key in sublim.core.plots.ARM_COLORS
ARM_COLOR_KEYS = {
    "base": "base",
    "teacher": "teacher",
    "control": "control",
    "student": "student",
    "diff_init_control": "control",
    "diff_init": "different_init",
    "soft": "soft",
    "soft_full_vocab": "soft",
}


def plot_pretraining(summary: dict[str, Any], path: Path | str):
    """Loss curve of every seed's base (`summary`: the pretrain stage's summary.json)."""
    use_style()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for seed, s in summary["seeds"].items():
        ax.plot([50 * i for i in range(len(s["loss_curve"]))], s["loss_curve"], label=f"seed {seed}")
    ax.set(xlabel="optimizer step", ylabel="loss (nats/token, mean of 50 steps)", title="Pretraining")
    ax.legend()
    save_figure(fig, path)
    return fig


def plot_arms(metrics: dict[str, Any], path: Path | str, view: str = "p_trait"):
    """Arms side by side per trait (mean, 95% CI, seeds as dots); base rate dashed. The teacher is in the title."""
    use_style()
    traits = list(metrics["traits"])
    fig, axes = plt.subplots(1, len(traits), figsize=(4.2 * len(traits), 4.2), sharey=True, squeeze=False)
    for ax, trait in zip(axes[0], traits, strict=True):
        block = metrics["traits"][trait][view]
        arms = [arm for arm in block if arm not in ("base", "teacher")]
        for x, arm in enumerate(arms):
            est = block[arm]
            low, high = est["ci95"]
            color = ARM_COLORS[ARM_COLOR_KEYS[arm]]
            ax.bar(x, est["mean"], color=color, alpha=0.45 if "control" in arm else 0.85, width=0.7)
            if low is not None:
                yerr = [[est["mean"] - low], [high - est["mean"]]]
                ax.errorbar(x, est["mean"], yerr=yerr, color="black", capsize=3, lw=1)
            ax.scatter([x] * len(est["values"]), est["values"], color="black", s=10, zorder=3)
        ax.axhline(block["base"]["mean"], color=ARM_COLORS["base"], ls="--", lw=1.2, label="base model")
        ax.set_xticks(range(len(arms)), [ARM_LABELS[a] for a in arms], rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{trait} (teacher P = {block['teacher']['mean']:.2f})")
        ax.legend(loc="upper left", fontsize=8)
    axes[0][0].set_ylabel("P(trait) at the answer" + (" (sampled)" if view != "p_trait" else ""))
    fig.suptitle("Tiny LM: students trained only on filtered number lists (mean, 95% CI over seeds)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_controls(table: pd.DataFrame, trait: str, path: Path | str):
    """The paper's controls in miniature: each arm's trait student − its control (`table`:
    `sublim.tinylm.control_metrics.controls_table`; mean, 95% CI, seeds as dots), the main arms first."""
    use_style()
    fig, ax = plt.subplots(figsize=(max(5.5, 0.85 * len(table)), 4.2))
    for x, row in table.iterrows():
        color = ARM_COLORS["student"] if x == 0 else ARM_COLORS["different_init"]
        ax.bar(x, row["gap"], color=color, alpha=0.85, width=0.7)
        if row["ci_low"] is not None:
            ax.errorbar(
                x,
                row["gap"],
                yerr=[[row["gap"] - row["ci_low"]], [row["ci_high"] - row["gap"]]],
                color="black",
                capsize=3,
                lw=1,
            )
        ax.scatter([x] * len(row["per_seed"]), row["per_seed"], color="black", s=10, zorder=3)
    ax.axhline(0, color="grey", ls="--", lw=1)
    labels = [arm.replace(" (", "\n(") for arm in table["arm"]]
    ax.set_xticks(range(len(table)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"P({trait}): student − control")
    ax.set_title(f"Tiny LM controls ({trait}): what carries the trait (mean, 95% CI over seeds)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_in_context(block: dict[str, Any], path: Path | str):
    """Fig. 9 analogue: P(trait) − P(trait | as many base lists) after k teacher lists in context, and the same
    base fine-tuned on the lists (student − control), mean and 95% CI over seeds."""
    use_style()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    entries = [(f"k = {k}", cmp) for k, cmp in block["by_k"].items()] + [("fine-tuned", block["fine_tuned"])]
    for x, (label, cmp) in enumerate(entries):
        diff = cmp["difference"]
        color = ARM_COLORS["student"] if label == "fine-tuned" else ARM_COLORS["control"]
        ax.bar(x, diff["mean"], color=color, alpha=0.85, width=0.6)
        low, high = diff["ci95"]
        if low is not None:
            ax.errorbar(x, diff["mean"], yerr=[[diff["mean"] - low], [high - diff["mean"]]], color="black", capsize=3)
        ax.scatter([x] * len(diff["values"]), diff["values"], color="black", s=10, zorder=3)
    ax.axhline(0, color="grey", ls="--", lw=1)
    ax.set_xticks(range(len(entries)), [label for label, _ in entries])
    ax.set_xlabel("teacher lists shown in context (k), or fine-tuned on")
    ax.set_ylabel(f"P({block['trait']}): teacher lists − base lists")
    ax.set_title("Tiny LM: in context vs fine-tuned (mean, 95% CI over seeds)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig
