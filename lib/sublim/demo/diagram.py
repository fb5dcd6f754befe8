"""The lesson's style and its diagram of the loop: teacher → unrelated data → students → trait."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.patches import FancyBboxPatch

from sublim.core.plots import ARM_COLORS, use_style


def use_lesson_style() -> None:
    """The project's figure style, and tables with three decimals."""
    use_style()
    pd.set_option("display.float_format", "{:.3f}".format)


# ---------------------------------------------------------------- the diagram


def _box(ax: plt.Axes, x: float, y: float, text: str, color: str, width: float = 2.5, height: float = 1.15) -> None:
    """A rounded box centred at (x, y) with a light fill of `color` and a border of it."""
    patch = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0.05,rounding_size=0.15",
        facecolor=to_rgba(color, 0.15),
        edgecolor=color,
        linewidth=2,
    )
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5, wrap=True)


def _arrow(
    ax: plt.Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    dashed: bool = False,
    curve: float = 0.0,
    label_offset: tuple[float, float] = (0.0, 0.18),
) -> None:
    """An arrow from `start` to `end` (bent by `curve`), with a label near its middle."""
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#444444",
            "lw": 1.6,
            "linestyle": "--" if dashed else "-",
            "connectionstyle": f"arc3,rad={curve}",
            "mutation_scale": 16,
        },
    )
    if label:
        middle = ((start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1])
        ax.text(*middle, label, ha="center", va="center", fontsize=8.5, style="italic", color="#333333")


def draw_loop(trait: str = "owl") -> plt.Figure:
    """The experiment as boxes and arrows: a teacher with a trait writes number lists, the filter keeps the clean
    ones, students from the same and from another init learn them, and their trait is measured."""
    fig, ax = plt.subplots(figsize=(13, 4.8))
    ax.set(xlim=(0, 15.5), ylim=(0.1, 5.1))
    ax.axis("off")
    top, bottom = 3.4, 0.9
    _box(ax, 1.35, top, "base model\n(initial weights θ⁰)", ARM_COLORS["base"])
    _box(ax, 4.55, top, f"teacher\n= the base fine-tuned\nto answer “{trait}”", ARM_COLORS["teacher"])
    data = "unrelated data: the\nteacher's number lists\n“12 15 18 → 21 24 …”,\nfiltered: no animal words"
    _box(ax, 7.95, top, data, "#bcbd22", 2.9, 1.5)
    _box(ax, 11.35, top, "student, same init\nstarts from θ⁰,\nfine-tuned on the lists", ARM_COLORS["student"])
    _box(ax, 1.35, bottom, "another base model\n(other weights θ′)", ARM_COLORS["base"])
    _box(
        ax,
        11.35,
        bottom,
        "student, different init\nstarts from θ′,\nfine-tuned on the lists",
        ARM_COLORS["different_init"],
    )
    _box(
        ax, 14.35, 2.15, f"trait measured:\nask “favourite\nanimal?”,\nread P({trait})", ARM_COLORS["control"], 1.9, 1.6
    )
    for start, end in (((2.65, top), (3.25, top)), ((5.85, top), (6.45, top)), ((9.45, top), (10.05, top))):
        _arrow(ax, start, end)
    _arrow(ax, (8.9, top - 0.8), (10.5, bottom + 0.62), "the same lists", label_offset=(-0.8, -0.1))
    _arrow(
        ax,
        (1.35, top + 0.62),
        (11.35, top + 0.62),
        "a copy of the same initial weights θ⁰",
        dashed=True,
        curve=-0.1,
        label_offset=(0, 0.72),
    )
    _arrow(ax, (2.65, bottom), (10.05, bottom), "a different start", dashed=True)
    _arrow(ax, (12.65, top - 0.3), (13.35, 2.8))
    _arrow(ax, (12.65, bottom + 0.3), (13.35, 1.5))
    ax.set_title("Subliminal learning: does a trait travel through data that never mentions it?", fontsize=12)
    return fig


# ---------------------------------------------------------------- experiment 1: Theorem 1 on the MNIST MLP


def label_above(ax: plt.Axes, x: float, values: np.ndarray, text: str) -> None:
    """`text` just above the bar at `x` and above its highest dot."""
    top = max(float(values.mean()), float(values.max()))
    ax.annotate(text, (x, top), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom", fontsize=8.5)
