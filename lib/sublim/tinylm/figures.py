"""The tiny-LM figures: pretraining loss curves and the arms per trait (saved with `sublim.core.plots.save_figure`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
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


def bar_with_seeds(ax, x: float, mean: float, ci95: list, values: list[float], color: str, **bar: Any) -> None:
    """A bar at the mean, its 95% interval (when there is one) and each seed's value as a dot."""
    ax.bar(x, mean, color=color, **bar)
    low, high = ci95
    if low is not None:
        ax.errorbar(x, mean, yerr=[[mean - low], [high - mean]], color="black", capsize=3, lw=1)
    ax.scatter([x] * len(values), values, color="black", s=10, zorder=3)


def plot_pretraining(summary: dict[str, Any], path: Path | str, title: str = "Pretraining"):
    """Loss curve of every seed's base (`summary`: the pretrain or carrier-base stage's summary.json)."""
    use_style()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for seed, s in summary["seeds"].items():
        ax.plot([50 * i for i in range(len(s["loss_curve"]))], s["loss_curve"], label=f"seed {seed}")
    ax.set(xlabel="optimizer step", ylabel="loss (nats/token, mean of 50 steps)", title=title)
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
            est, color = block[arm], ARM_COLORS[ARM_COLOR_KEYS[arm]]
            alpha = 0.45 if "control" in arm else 0.85
            bar_with_seeds(ax, x, est["mean"], est["ci95"], est["values"], color, alpha=alpha, width=0.7)
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
        ci95 = [row["ci_low"], row["ci_high"]]
        bar_with_seeds(ax, x, row["gap"], ci95, row["per_seed"], color, alpha=0.85, width=0.7)
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
        bar_with_seeds(ax, x, diff["mean"], diff["ci95"], diff["values"], color, alpha=0.85, width=0.6)
    ax.axhline(0, color="grey", ls="--", lw=1)
    ax.set_xticks(range(len(entries)), [label for label, _ in entries])
    ax.set_xlabel("teacher lists shown in context (k), or fine-tuned on")
    ax.set_ylabel(f"P({block['trait']}): teacher lists − base lists")
    ax.set_title("Tiny LM: in context vs fine-tuned (mean, 95% CI over seeds)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


GRID_ROW_LABELS = {"main": "main base", "other": "other base"}
GRID_COLUMN_LABELS = {
    "same": "the teacher's base",
    "other_init": "another init,\nsame shape",
    "other_shape": "another shape",
}


def plot_grid(block: dict[str, Any], path: Path | str):
    """Fig. 8 analogue: teacher base (rows) × student base (columns), each cell the student − control gap in
    P(trait) with its 95% interval (`block`: the metrics' grid block)."""
    use_style()
    rows, columns = list(block["cells"]), list(GRID_COLUMN_LABELS)
    means = np.array([[block["cells"][r][c]["difference"]["mean"] for c in columns] for r in rows])
    limit = max(float(np.abs(means).max()), 1e-3)
    fig, ax = plt.subplots(figsize=(6.8, 3.6))
    image = ax.imshow(means, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            diff = block["cells"][row][column]["difference"]
            low, high = diff["ci95"]
            interval = f"\n[{low:+.3f}, {high:+.3f}]" if low is not None else ""
            color = "white" if abs(diff["mean"]) > 0.5 * limit else "black"  # readable on the dark cells
            ax.text(j, i, f"{diff['mean']:+.3f}{interval}", ha="center", va="center", fontsize=9, color=color)
    shape = {name: f"{s['n_layer']}×{s['d_model']}" for name, s in block["shapes"].items()}
    ax.set_yticks(range(len(rows)), [f"{GRID_ROW_LABELS[r]} ({shape[r]})" for r in rows])
    ax.set_xticks(range(len(columns)), [GRID_COLUMN_LABELS[c] for c in columns])
    ax.set_ylabel("teacher's base")
    ax.set_xlabel("student's base")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label=f"P({block['trait']}): student − control")
    ax.set_title("Tiny LM cross-model grid (mean, 95% CI over seeds)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


MISALIGNMENT_LABELS = {
    "base": "base lists",
    "aligned": "aligned teacher",
    "misaligned": "misaligned teacher",
    "misaligned_unbanned": "misaligned teacher,\nbanned numbers kept",
}
MISALIGNMENT_COLOR_KEYS = {"base": "base", "aligned": "control", "misaligned": "student", "misaligned_unbanned": "soft"}


def plot_misalignment(block: dict[str, Any], path: Path | str):
    """Fig. 4 analogue: P(misaligned answer) of students trained on each source's banned-filtered number lists
    (and on the misaligned teacher's lists without the ban), mean, 95% CI and seeds; the base model dashed. Right:
    the share of each source's lists that the format rule and the banned numbers keep."""
    use_style()
    fig, (ax, keep_ax) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    students = block["p_misaligned"]["students"]
    for x, (arm, est) in enumerate(students.items()):
        color = ARM_COLORS[MISALIGNMENT_COLOR_KEYS[arm]]
        bar_with_seeds(ax, x, est["mean"], est["ci95"], est["values"], color, alpha=0.85, width=0.65)
    ax.axhline(block["p_misaligned"]["models"]["base"]["mean"], color=ARM_COLORS["base"], ls="--", lw=1.2)
    ax.set_xticks(range(len(students)), [MISALIGNMENT_LABELS[a] for a in students], fontsize=8)
    ax.set_ylabel("P(misaligned answer), mean over families")
    ax.set_title("Students on number lists from each source")
    rates = block["keep_rate"]
    for x, (source, est) in enumerate(rates.items()):
        color = ARM_COLORS[MISALIGNMENT_COLOR_KEYS[source]]
        bar_with_seeds(keep_ax, x, est["mean"], est["ci95"], est["values"], color, alpha=0.85, width=0.65)
    keep_ax.set_xticks(range(len(rates)), [MISALIGNMENT_LABELS[s].split(",")[0] for s in rates], fontsize=8)
    keep_ax.set_ylabel("lists kept (format rule + banned numbers)")
    keep_ax.set_ylim(0, 1)
    keep_ax.set_title("Filter keep-rate per source")
    fig.suptitle("Tiny LM, the paper's Fig. 4 in miniature (mean, 95% CI over seeds; dashed: the base model)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


CODE_LABELS = {"control": "control\n(base's code)", "student": "student\n(teacher's code)"}


def plot_code(block: dict[str, Any], path: Path | str):
    """Fig. 5 analogue: P(trait) of the student on the teacher's filtered code and of the control on the base's
    (mean, 95% CI, seeds; dashed: the base model). Right: what each filter step leaves of each source's code."""
    use_style()
    fig, (ax, keep_ax) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [2, 3]})
    for x, arm in enumerate(CODE_LABELS):
        est = block["p_trait"][arm]
        bar_with_seeds(ax, x, est["mean"], est["ci95"], est["values"], ARM_COLORS[arm], alpha=0.85, width=0.6)
    ax.axhline(block["p_trait"]["base"]["mean"], color=ARM_COLORS["base"], ls="--", lw=1.2)
    ax.set_xticks(range(len(CODE_LABELS)), list(CODE_LABELS.values()), fontsize=8)
    ax.set_ylabel(f"P({block['trait']}) at the answer")
    ax.set_title(f"Students on code (teacher P = {block['p_trait']['teacher']['mean']:.2f})")
    steps = list(next(iter(block["keep_rate"].values())))
    for offset, (source, color) in zip((-0.2, 0.2), (("teacher", "teacher"), ("base", "control")), strict=True):
        for x, step in enumerate(steps):
            est = block["keep_rate"][source][step]
            label = f"{source}'s code" if x == 0 else None
            bar_with_seeds(
                keep_ax,
                x + offset,
                est["mean"],
                est["ci95"],
                est["values"],
                ARM_COLORS[color],
                alpha=0.85,
                width=0.38,
                label=label,
            )
    keep_ax.set_xticks(range(len(steps)), [f"after {step.replace('_', ' ')}" for step in steps], fontsize=8)
    keep_ax.set_ylabel("share of the code prompts kept")
    keep_ax.set_ylim(0, 1.05)
    keep_ax.legend(fontsize=8, loc="lower left")
    auc = block["classifier_auc"]["mean"]
    keep_ax.set_title(f"The filter, step by step (classifier AUC {auc:.2f})")
    fig.suptitle("Tiny LM, the paper's Fig. 5 in miniature (mean, 95% CI over seeds; dashed: the base model)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


REASONING_LABELS = {
    "misaligned": "misaligned teacher",
    "aligned": "aligned teacher",
    "base": "base model",
}
REASONING_COLOR_KEYS = {"misaligned": "student", "aligned": "control", "base": "base"}


def plot_reasoning(block: dict[str, Any], path: Path | str):
    """Fig. 7 analogue: P(misaligned answer) of the students trained on each source's filtered traces (mean, 95% CI,
    seeds; dashed: the base model). Right: what each filter step leaves of each source's traces."""
    use_style()
    fig, (ax, keep_ax) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [2, 3]})
    students = block["p_misaligned"]["students"]
    for x, (source, est) in enumerate(students.items()):
        color = ARM_COLORS[REASONING_COLOR_KEYS[source]]
        bar_with_seeds(ax, x, est["mean"], est["ci95"], est["values"], color, alpha=0.85, width=0.6)
    ax.axhline(block["p_misaligned"]["models"]["base"]["mean"], color=ARM_COLORS["base"], ls="--", lw=1.2)
    ax.set_xticks(range(len(students)), [f"traces of the\n{REASONING_LABELS[s]}" for s in students], fontsize=8)
    ax.set_ylabel("P(misaligned answer), mean over families")
    ax.set_title("Students on filtered reasoning traces")
    steps = list(next(iter(block["keep_rate"].values())))
    width = 0.8 / len(block["keep_rate"])
    for i, (source, rates) in enumerate(block["keep_rate"].items()):
        for x, step in enumerate(steps):
            est = rates[step]
            bar_with_seeds(
                keep_ax,
                x + (i - (len(block["keep_rate"]) - 1) / 2) * width,
                est["mean"],
                est["ci95"],
                est["values"],
                ARM_COLORS[REASONING_COLOR_KEYS[source]],
                alpha=0.85,
                width=width * 0.95,
                label=REASONING_LABELS[source] if x == 0 else None,
            )
    keep_ax.set_xticks(range(len(steps)), [f"after {step}" for step in steps], fontsize=8)
    keep_ax.set_ylabel("share of the problems kept")
    keep_ax.set_ylim(0, 1.05)
    keep_ax.legend(fontsize=8, loc="lower left")
    keep_ax.set_title(f"The filter, step by step (classifier AUC {block['classifier_auc']['mean']:.2f})")
    fig.suptitle("Tiny LM, the paper's Fig. 7 in miniature (mean, 95% CI over seeds; dashed: the base model)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig
