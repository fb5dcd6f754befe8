"""One seaborn style for every figure, fixed colours per arm and per trait, and PNG saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # stages run headless
import matplotlib.pyplot as plt
import seaborn as sns

from sublim.core.io import atomic_path

PAPER_COLOR = "#9e9e9e"  # the paper's values, drawn beside ours
ARM_COLORS = {
    "base": "#7f7f7f",
    "reference": "#7f7f7f",
    "teacher": "#d62728",
    "control": "#1f77b4",
    "student": "#2ca02c",
    "different_init": "#9467bd",
    "soft": "#ff7f0e",
}
TRAIT_COLORS = dict(
    zip(
        [
            "owl",
            "dolphin",
            "eagle",
            "elephant",
            "wolf",
            "cat",
            "dog",
            "lion",
            "tiger",
            "bear",
            "fox",
            "cherry",
            "maple",
            "oak",
            "sequoia",
            "willow",
            "control",
        ],
        sns.color_palette("tab20", 17),
        strict=True,
    )
)


def use_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "savefig.bbox": "tight"})


def save_figure(fig: plt.Figure, path: Path | str) -> Path:
    """Write a PNG atomically (a figure is a DVC output like any other)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
