"""The tiny-LM figures: pretraining loss curves and the arms per trait (saved with `sublim.core.plots.save_figure`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

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
