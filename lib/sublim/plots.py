"""The DVC plots: what each CSV shows (x, y, template, axis titles), said once, and an offline view of them.

    python -m sublim.plots [--out dvc_plots/offline]    PNGs of every plot and an index.html, without a network

`PLOTS` is the one source of dvc.yaml's top-level `plots:` section (`python -m sublim.wiring` writes it, its
`--check` compares), so `dvc plots show` and `dvc plots diff` draw each CSV against its swept value or its arms,
with labelled axes. DVC's HTML page loads Vega from a CDN; offline, `python -m sublim.plots` draws the same CSVs with
the same x, y and template in matplotlib (a 95% interval as error bars where the CSV has one: `ci_low`/`ci_high`,
or `<y>_ci_low`/`<y>_ci_high`), skipping a CSV that a switched-off sweep or a stage not yet run did not write.

Templates used (DVC's built-ins): `linear` for a sweep (a line over the swept value), `scatter` for points that
share an x (each model, every condition of a sweep), `bar_horizontal` for arms (one bar per row, in the CSV's order).
A folder of images (the report's figures) is a plot too: DVC shows the images as they are.
"""

from __future__ import annotations

import argparse
import html
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sublim.stages import LLM_REPORT, MNIST, REPORT, THEORY, TINYLM

TEMPLATES = ("linear", "scatter", "bar_horizontal", "bar_horizontal_sorted")
BAR_TEMPLATES = ("bar_horizontal", "bar_horizontal_sorted")
DEFAULT_OUT = Path("dvc_plots/offline")
DATA_SUFFIX = ".csv"
LOG_SPAN = 100  # offline, an x axis of positive values spanning this factor or more is drawn on a log scale
TITLE_WIDTH = 70  # characters per line of a title, offline


@dataclass(frozen=True)
class Plot:
    """A CSV drawn by a DVC template (x and y are column names; for a bar template x is the value and y the bar's
    name), or a folder of images (no template, x or y)."""

    path: str
    template: str | None = None
    x: str | None = None
    y: str | tuple[str, ...] | None = None
    title: str = ""
    x_label: str = ""
    y_label: str = ""

    def __post_init__(self) -> None:
        if not self.is_data:
            if self.template or self.x or self.y:
                raise ValueError(f"plot {self.path}: a folder of images takes no template, x or y")
            return
        if self.template not in TEMPLATES:
            raise ValueError(f"plot {self.path}: template {self.template!r} is not one of {TEMPLATES}")
        if not (self.x and self.y and self.title and self.x_label and self.y_label):
            raise ValueError(f"plot {self.path}: give x, y, title, x_label and y_label")
        if self.template in BAR_TEMPLATES and len(self.ys) != 1:
            raise ValueError(f"plot {self.path}: a bar plot has one y (the bars' names)")

    @property
    def is_data(self) -> bool:
        return self.path.endswith(DATA_SUFFIX)

    @property
    def ys(self) -> tuple[str, ...]:
        return (self.y,) if isinstance(self.y, str) else tuple(self.y or ())

    def dvc_entry(self) -> str | dict[str, dict[str, Any]]:
        """The plot as dvc.yaml's top-level `plots:` lists it (the path is its id)."""
        if not self.is_data:
            return self.path
        y: str | list[str] = self.y if isinstance(self.y, str) else list(self.ys)
        props = {"template": self.template, "x": self.x, "y": y, "title": self.title}
        return {self.path: {**props, "x_label": self.x_label, "y_label": self.y_label}}


ACCURACY = "test accuracy"
AUX_STUDENT = "aux-only student: test accuracy"
MNIST_ARMS = ("teacher", "student_aux", "student_all", "xmodel_aux", "xmodel_all", "reference")
ARM_BARS = "arm (trait: arm)"

PLOTS: tuple[Plot, ...] = (
    Plot(
        f"{MNIST}/models.csv",
        "scatter",
        "model",
        MNIST_ARMS,
        "MNIST (Fig. 10): each model's test accuracy, per arm",
        "model (index of its init)",
        ACCURACY,
    ),
    Plot(
        f"{MNIST}/sweeps/n_aux_logits.csv",
        "linear",
        "n_aux_logits",
        "student_aux",
        "MNIST: the aux-only student over the number of auxiliary logits m",
        "auxiliary logits m",
        AUX_STUDENT,
    ),
    Plot(
        f"{MNIST}/sweeps/sigma.csv",
        "linear",
        "sigma",
        "student_aux",
        "MNIST: the aux-only student over the noise on its init (the teacher's init + noise)",
        "noise sd sigma (mnist.sweeps.sigma_scale)",
        AUX_STUDENT,
    ),
    Plot(
        f"{MNIST}/sweeps/hidden_width.csv",
        "linear",
        "hidden_width",
        ("teacher", "student_aux"),
        "MNIST: teacher and aux-only student over the hidden width",
        "hidden width",
        ACCURACY,
    ),
    Plot(
        f"{MNIST}/sweeps/loss.csv",
        "bar_horizontal",
        "student_aux",
        "loss",
        "MNIST: the aux-only student under each distillation loss",
        AUX_STUDENT,
        "distillation loss",
    ),
    Plot(
        f"{THEORY}/epsilon_sweep.csv",
        "scatter",
        "epsilon",
        "fraction_nonnegative",
        "Theorem 1: share of trials where the student's step goes with the teacher's (every model, init, target, loss)",
        "teacher step epsilon",
        "share of trials, inner product >= 0",
    ),
    Plot(
        f"{THEORY}/trials.csv",
        "scatter",
        "epsilon",
        "cosine",
        "Theorem 1: cosine between the student's and the teacher's step, each trial (every condition)",
        "teacher step epsilon",
        "cosine(student step, teacher step)",
    ),
    Plot(
        f"{LLM_REPORT}/arms.csv",
        "bar_horizontal",
        "mean",
        "label",
        "LLM (Fig. 3): exact P(the answer starts with the trait) per arm, mean over seeds",
        "P(answer starts with the trait)",
        ARM_BARS,
    ),
    Plot(
        f"{TINYLM}/plots/arms.csv",
        "bar_horizontal",
        "mean",
        "label",
        "Tiny LM: P(trait) per arm, mean over seeds",
        "P(trait)",
        ARM_BARS,
    ),
    Plot(
        f"{TINYLM}/plots/gaps.csv",
        "bar_horizontal",
        "gap",
        "label",
        "Tiny LM: each treated arm minus its control, P(trait), mean over seeds",
        "P(trait) gap (arm - control)",
        "comparison (trait: arm - control)",
    ),
    Plot(
        f"{TINYLM}/plots/controls.csv",
        "bar_horizontal",
        "gap",
        "arm",
        "Tiny LM controls: student minus its control student, P(trait), mean over seeds",
        "P(trait) gap (student - control)",
        "control arm",
    ),
    Plot(
        f"{TINYLM}/plots/grid.csv",
        "bar_horizontal",
        "gap",
        "cell",
        "Tiny LM cross-model grid: student minus control from one student base, P(trait), mean over seeds",
        "P(trait) gap (student - control)",
        "teacher's base -> student's base",
    ),
    Plot(f"{REPORT}/figures"),
)


def dvc_plots(plots: tuple[Plot, ...] = PLOTS) -> list[str | dict[str, dict[str, Any]]]:
    """dvc.yaml's top-level `plots:` section."""
    return [plot.dvc_entry() for plot in plots]


# ---------------------------------------------------------------- the offline view


def interval(table: Any, column: str, single: bool) -> tuple[Any, Any] | None:
    """The CSV's 95% interval columns of `column` (`<column>_ci_low`/`_ci_high`, or `ci_low`/`ci_high` when the plot
    has one value column), or None."""
    candidates = [(f"{column}_ci_low", f"{column}_ci_high")] + [("ci_low", "ci_high")] * single
    for low, high in candidates:
        if low in table and high in table:
            return table[low], table[high]
    return None


def error_bars(values: Any, bounds: tuple[Any, Any] | None) -> Any:
    """matplotlib's xerr/yerr (distances below and above) from an interval; a row without one (NaN) gets no bar."""
    if bounds is None:
        return None
    low, high = bounds
    return [(values - low).clip(lower=0), (high - values).clip(lower=0)]


def draw(plot: Plot, table: Any) -> Any:
    """A matplotlib figure of the plot's CSV, as its DVC template draws it."""
    import matplotlib.pyplot as plt

    from sublim.core.plots import use_style

    use_style()
    if plot.template in BAR_TEMPLATES:
        name, value = plot.ys[0], plot.x
        rows = table.sort_values(value) if plot.template == "bar_horizontal_sorted" else table.iloc[::-1]
        fig, ax = plt.subplots(figsize=(7.0, 1.0 + 0.32 * len(rows)))
        xerr = error_bars(rows[value], interval(rows, value, single=True))
        ax.barh(rows[name].astype(str), rows[value], xerr=xerr, capsize=3, color="#4c72b0")
        ax.axvline(0, color="black", linewidth=0.8)
    else:
        fig, ax = plt.subplots(figsize=(7.0, 4.0))
        table = table.sort_values(plot.x)
        single = len(plot.ys) == 1
        for column in plot.ys:
            yerr = error_bars(table[column], interval(table, column, single))
            if plot.template == "linear":
                ax.errorbar(table[plot.x], table[column], yerr=yerr, marker="o", capsize=3, label=column)
            else:
                ax.scatter(table[plot.x], table[column], s=12, alpha=0.6, label=column)
        if not single:
            ax.legend(fontsize="small")
        x = table[plot.x]
        if x.dtype.kind in "if" and (x > 0).all() and x.max() >= LOG_SPAN * x.min():
            ax.set_xscale("log")
    ax.set(title="\n".join(textwrap.wrap(plot.title, TITLE_WIDTH)), xlabel=plot.x_label, ylabel=plot.y_label)
    return fig


def render(out: Path | str = DEFAULT_OUT, root: Path | str = ".", plots: tuple[Plot, ...] = PLOTS) -> list[Path]:
    """A PNG per data plot whose CSV exists under `root`, and `index.html` showing them (and the image folders);
    returns the PNGs."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from sublim.core.io import write_text_atomic
    from sublim.core.plots import save_figure

    out, root = Path(out), Path(root)
    written, sections = [], []
    for plot in plots:
        source = root / plot.path
        if not plot.is_data:
            images = sorted(source.glob("*.png")) if source.is_dir() else []
            sections += [_figure_html(image.resolve().as_uri(), image.name, plot.path) for image in images]
            continue
        if not source.exists():
            print(f"sublim.plots: {plot.path} not written yet (a stage not run, or a sweep switched off): skipped")
            continue
        fig = draw(plot, pd.read_csv(source))
        png = save_figure(fig, out / (plot.path.removesuffix(DATA_SUFFIX).replace("/", "__") + ".png"))
        plt.close(fig)
        written.append(png)
        sections.append(_figure_html(png.name, plot.title, plot.path))
    page = "<!doctype html><meta charset='utf-8'><title>sublim plots</title>\n" + "\n".join(sections) + "\n"
    write_text_atomic(out / "index.html", page)
    return written


def _figure_html(src: str, caption: str, path: str) -> str:
    text = f"{html.escape(caption)} (<code>{html.escape(path)}</code>)"
    return f"<figure><img src='{html.escape(src)}' style='max-width:100%'><figcaption>{text}</figcaption></figure>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sublim.plots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"folder for the PNGs and index.html ({DEFAULT_OUT})")
    args = parser.parse_args(argv)
    written = render(args.out)
    print(f"sublim.plots: {len(written)} plots in {args.out}; open {Path(args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
