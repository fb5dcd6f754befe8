"""Figures in the paper's layout: ours with the 95% CI, the paper's value hatched beside each bar.

`report_figures.csv` (path in params `report`) has one row per bar, or per `*` pattern of bars: the figure id
(one PNG each), its title, the panel and label of the bar, the metrics file and JSON path of our estimate
(`sublim.report.jsonpath`), and the paper's value id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from sublim.core.plots import ARM_COLORS, PAPER_COLOR, TRAIT_COLORS, save_figure, use_style
from sublim.report.claims import load_metrics
from sublim.report.config import ReportParams
from sublim.report.jsonpath import expand, fill
from sublim.report.paper import PaperNumber, load_paper_values, paper_number, read_csv_rows
from sublim.report.status import Estimate, as_estimate


@dataclass(frozen=True)
class Bar:
    figure_id: str
    title: str
    panel: str
    label: str
    color_key: str
    ours: Estimate | None
    paper: PaperNumber | None
    ylabel: str


def figure_bars(figures_file: Path | str, paper_values_file: Path | str, root: Path | str = ".") -> list[Bar]:
    """Every bar of every figure whose metrics exist (missing metrics give no bar)."""
    root, values, cache, bars = Path(root), load_paper_values(paper_values_file), {}, []
    for spec in read_csv_rows(figures_file):
        data = load_metrics(root / spec["metrics"], cache)
        if data is None:
            continue
        for keys, node in expand(data, spec["ours"]):
            bars.append(
                Bar(
                    spec["figure_id"],
                    spec["title"],
                    fill(spec["panel"], keys),
                    fill(spec["label"], keys),
                    fill(spec["color_key"], keys),
                    as_estimate(node),
                    paper_number(fill(spec["paper_value"], keys), values),
                    spec["ylabel"],
                )
            )
    return bars


def plot_figures(cfg: ReportParams, results_dir: Path | str, root: Path | str = ".") -> list[Path]:
    """One PNG per figure id under results_dir/figures: ours with 95% CI, the paper's value beside each bar."""
    bars = figure_bars(Path(root) / cfg.figures, Path(root) / cfg.paper_values, root)
    paths, folder = [], Path(results_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)  # a DVC output even before any experiment has metrics
    for stale in folder.glob("*.png"):  # a figure whose metrics went away must not linger
        stale.unlink()
    for figure_id in dict.fromkeys(bar.figure_id for bar in bars):
        paths.append(plot_figure([b for b in bars if b.figure_id == figure_id], folder))
    return paths


def plot_figure(bars: list[Bar], folder: Path) -> Path:
    """Bars of one figure: per panel (e.g. a trait) one bar per arm, ours with its 95% CI, the paper's hatched
    beside it (≈ marks a value read off the paper's figure)."""
    use_style()
    panels = list(dict.fromkeys(bar.panel for bar in bars))
    width = max(len([b for b in bars if b.panel == p]) for p in panels)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(max(3.2, 0.9 * width + 1) * len(panels), 3.6), squeeze=False, sharey=True
    )
    palette = {**TRAIT_COLORS, **ARM_COLORS}
    for ax, panel in zip(axes[0], panels, strict=True):
        group = [b for b in bars if b.panel == panel]
        x = np.arange(len(group))
        for i, bar in enumerate(group):
            if bar.ours is not None:
                err = None
                if bar.ours.has_interval:
                    err = [[bar.ours.mean - bar.ours.low], [bar.ours.high - bar.ours.mean]]  # type: ignore[operator]
                color = palette.get(bar.color_key, "#4c72b0")
                ax.bar(x[i] - 0.2, bar.ours.mean, 0.4, color=color, yerr=err, capsize=3)
                _label_bar(ax, x[i] - 0.2, bar.ours.mean, f"{bar.ours.mean:.2f}", "black")
            if bar.paper is not None and bar.paper.value is not None:
                ax.bar(x[i] + 0.2, bar.paper.value, 0.4, color="white", edgecolor=PAPER_COLOR, hatch="///")
                text = ("≈" if bar.paper.approx else "") + f"{bar.paper.value:.2f}"
                _label_bar(ax, x[i] + 0.2, bar.paper.value, text, "#555555")
        ax.set_xticks(x, [b.label for b in group], rotation=30, ha="right")
        if panel:
            ax.set_title(panel)
        ax.set_ylabel(group[0].ylabel)
        ax.axhline(0, color="black", linewidth=0.6)
    settings = sorted({f"{b.paper.figure}: {b.paper.setting}" for b in bars if b.paper and b.paper.setting})
    approx = " (≈: read off its figure)" if any(b.paper and b.paper.approx for b in bars) else ""
    handles = [
        Patch(facecolor="#8c8c8c", label="ours, mean and 95% CI"),
        Patch(
            facecolor="white",
            edgecolor=PAPER_COLOR,
            hatch="///",
            label="paper" + approx + (f" — {'; '.join(settings)}" if settings else ""),
        ),
    ]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=1, fontsize=8, frameon=False)
    fig.suptitle(bars[0].title, fontsize=10)
    fig.tight_layout()
    path = save_figure(fig, folder / f"{bars[0].figure_id}.png")
    plt.close(fig)
    return path


def _label_bar(ax, x: float, height: float, text: str, color: str) -> None:
    ax.annotate(
        text, (x, height), ha="center", va="bottom", fontsize=7, color=color, xytext=(0, 2), textcoords="offset points"
    )
