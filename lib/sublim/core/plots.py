"""One seaborn style for every figure, fixed colours per arm and per trait, and PNG saving.

Same data, same bytes: seaborn's bootstrap intervals take `seed=FIGURE_SEED`, its strip-plot jitter is drawn inside
`seeded_jitter()`, and `save_figure` writes no software version into the PNG.

Shown where drawn: in a Jupyter kernel matplotlib keeps the kernel's inline backend, which shows every figure a cell
leaves open (`save_figure` does not close it) below the cell, even after a `;` or inside a loop, and closes it.
Anywhere else figures are drawn headless (Agg); the saved bytes are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np

from sublim.core.runtime import in_kernel

if not in_kernel():
    matplotlib.use("Agg")  # function stages and tests run headless
import matplotlib.pyplot as plt
import seaborn as sns

from sublim.core.io import atomic_path

FIGURE_SEED = 0  # seaborn's bootstrap (`seed=`) and jitter (`seeded_jitter`): random draws fixed per figure
PNG_METADATA = {"Software": None}  # matplotlib writes its version by default: a new matplotlib, other bytes
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


@contextmanager
def seeded_jitter(seed: int = FIGURE_SEED) -> Iterator[None]:
    """Seed numpy's global generator for the block and restore it after: seaborn's `stripplot` draws its jitter
    from it and takes no seed."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def save_figure(fig: plt.Figure, path: Path | str) -> Path:
    """Write a PNG atomically (a figure is a DVC output like any other), the same bytes for the same figure."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata=PNG_METADATA)
    return path
