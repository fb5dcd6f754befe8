"""The figures of the MNIST stage: Fig. 10 beside the paper's values, and one panel per sweep."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sublim.core.plots import PAPER_COLOR, use_style
from sublim.mnist.experiment import ARMS, Sweep
from sublim.mnist.outputs import paper_values, sweep_table

ARM_LABELS = {
    "reference": "Reference\n(random init)",
    "teacher": "Teacher",
    "student_aux": "Student\n(aux. only)",
    "student_all": "Student\n(all logits)",
    "xmodel_aux": "Cross-model\n(aux. only)",
    "xmodel_all": "Cross-model\n(all logits)",
}
MNIST_ARM_COLORS = {
    "reference": "#7f7f7f",
    "teacher": "#d62728",
    "student_aux": "#2ca02c",
    "student_all": "#98df8a",
    "xmodel_aux": "#9467bd",
    "xmodel_all": "#c5b0d5",
}
SWEEP_TITLES = {
    "loss": "distillation loss",
    "n_aux_logits": "auxiliary logits m",
    "sigma": "noise added to the student's init (sigma)",
    "hidden_width": "hidden width",
}


def plot_fig10(metrics: dict, paper: pd.DataFrame | None = None) -> plt.Figure:
    """The paper's Fig. 10 layout: test accuracy per arm, ours (mean, 95% CI, models as dots) beside the paper's."""
    use_style()
    paper = paper if paper is not None else paper_values()
    paper_by_arm = dict(zip(paper["arm"], paper["accuracy"], strict=True))
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    x = np.arange(len(ARMS))
    for i, arm in enumerate(ARMS):
        est = metrics["arms"][arm]
        lo, hi = est["ci95"]
        yerr = [[est["mean"] - lo], [hi - est["mean"]]] if lo is not None else None
        ax.bar(
            i - 0.2,
            est["mean"],
            0.38,
            color=MNIST_ARM_COLORS[arm],
            yerr=yerr,
            capsize=4,
            label="this run (mean, 95% CI)" if i == 0 else None,
        )
        jitter = np.linspace(-0.08, 0.08, len(est["values"]))
        ax.scatter(
            i - 0.2 + jitter,
            est["values"],
            s=6,
            color="black",
            alpha=0.5,
            zorder=3,
            label="this run, one model" if i == 0 else None,
        )
        if arm in paper_by_arm:
            ax.bar(
                i + 0.2,
                paper_by_arm[arm],
                0.38,
                color=PAPER_COLOR,
                hatch="//",
                edgecolor="white",
                label="paper Fig. 10 (read off the figure)" if i == 0 else None,
            )
        top = max(hi if hi is not None else est["mean"], max(est["values"]))
        ax.text(i - 0.2, top + 0.02, f"{est['mean']:.2f}", ha="center", fontsize=8)
    ax.axhline(0.1, color="black", lw=0.8, ls=":", label="chance (0.10)")
    ax.set_xticks(x, [ARM_LABELS[a] for a in ARMS], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("MNIST test accuracy")
    n = metrics["arms"]["teacher"]["n"]
    ax.set_title(f"Students distilled on noise: auxiliary logits carry the classifier ({n} models)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=4, frameon=False)
    return fig


def plot_sweeps(sweeps: Sequence[Sweep]) -> plt.Figure:
    """One panel per sweep: mean and 95% CI per arm against the swept value."""
    use_style()
    fig, axes = plt.subplots(1, max(len(sweeps), 1), figsize=(4.0 * max(len(sweeps), 1), 3.4), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps, strict=False):
        table = sweep_table(sweep)
        positions = np.arange(len(table))
        for arm in [a for a in ("teacher", "student_aux", "xmodel_aux") if a in table]:
            mean = table[arm].to_numpy()
            err = np.vstack([mean - table[f"{arm}_ci_low"], table[f"{arm}_ci_high"] - mean])
            ax.errorbar(positions, mean, yerr=err, marker="o", capsize=3, color=MNIST_ARM_COLORS[arm], label=arm)
        ax.set_xticks(positions, [str(v) for v in table[sweep.name]])
        ax.axhline(0.1, color="black", lw=0.8, ls=":")
        ax.set_ylim(0, 1.02)
        title = SWEEP_TITLES.get(sweep.name, sweep.name)
        ax.set_xlabel(title)
        ax.set_title(f"{title} (n={int(table['n'].iloc[0])})", fontsize=9)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("MNIST test accuracy")
    fig.tight_layout()
    return fig
