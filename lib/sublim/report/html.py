"""Stage `report_html`: the report as one page for readers, rendered from the files stage `report` writes.

No code and no notebook: the headline table (`headline.csv`), the figures in the paper's layout (`figures/*.png`,
titled by `report_figures.csv`) and the provenance table (`provenance.csv`) go through a Jinja2 template
(`templates/report.html.j2`, with its print stylesheet). Every claim is shown in full with the paper's value,
ours with its interval, n, its status and reason, and links to the metrics file and the figure it came from.
Links are relative to the page, so it works offline, opened from disk in a checkout; a link is made only to a
file that exists (a stage that has not run gives plain text). The same files give the same bytes.

A separate stage because it reads what stage `report` writes (its results folder is the one above this stage's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sublim.core.io import write_text_atomic
from sublim.report.config import ReportParams
from sublim.report.labels import EXPERIMENTS, KIND_TEXT, summary_line
from sublim.report.paper import read_csv_rows
from sublim.report.status import STATUSES, status_counts

HTML_TITLE = "Subliminal learning: the report beside the paper"
PAGE_NAME = "report.html"
TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"
# what stage `report` writes in its results folder (claims.write_headline, provenance.write_provenance, and
# figures.plot_figures: one `<figure_id>.png` each)
HEADLINE_FILE, PROVENANCE_FILE, FIGURES_DIR = "headline.csv", "provenance.csv", "figures"
REPORT_FILES = (HEADLINE_FILE, PROVENANCE_FILE, FIGURES_DIR)
STATUS_RULE = "lib/sublim/report/status.py"
# the colour of a status on the page: agrees with the paper, partly, against it, open, nothing to say
STATUS_TONES = {
    "reproduced": "good",
    "direction reproduced": "partial",
    "not reproduced": "bad",
    "null at this scale": "open",
    "confounded": "bad",
    "inconclusive": "open",
    "too few runs": "none",
    "check passed": "good",
    "check failed": "bad",
    "not run": "none",
}
# provenance.csv's columns as the page shows them; one whose value every run shares is said once above the table
PACKAGES = ("python", "torch", "transformers", "peft", "numpy", "dvc")
PROVENANCE_COLUMNS = {
    "stage": "Stage",
    "matrix": "Matrix",
    "commit": "Commit",
    "device": "Device",
    "threads": "Threads",
    "wall_s": "Wall time (s)",
    "packages": "Packages",
    "record": "Run record",
}
SHARED_COLUMNS = ("commit", "device", "threads", "packages")  # said once when every run has the same


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None
    note: str = ""


@dataclass(frozen=True)
class PageFigure:
    figure_id: str
    title: str
    href: str  # the PNG, relative to the page
    reads: frozenset[tuple[str, str]]  # (metrics file, JSON path of a bar) of every row of report_figures.csv

    def shows(self, metrics: str, json_path: str | None = None) -> bool:
        """Whether a bar reads `metrics` (and, given a JSON path, lies beside it: `arms.teacher` for `arms.*`)."""
        return any(
            file == metrics and (json_path is None or fnmatchcase(json_path, path.rpartition(".")[0] + ".*"))
            for file, path in self.reads
        )


@dataclass(frozen=True)
class Experiment:
    key: str
    name: str
    rows: list[dict[str, Any]]
    figures: list[PageFigure]
    setting: dict[str, str] | None  # {"ours": ..., "paper": ...} when every row has the same settings


def report_dir(results_dir: Path | str) -> Path:
    """Where stage `report` writes: the folder above this stage's (`results/report/html` -> `results/report`)."""
    return Path(results_dir).parent


def link(path: Path, page_dir: Path) -> str | None:
    """`path` relative to the page's folder (forward slashes), or None when the file does not exist."""
    if not path.exists():
        return None
    return Path(os.path.relpath(path.resolve(), page_dir.resolve())).as_posix()


def page_figures(figures_file: Path, figures_dir: Path, page_dir: Path) -> list[PageFigure]:
    """One figure per id of `report_figures.csv` whose PNG exists, in the file's order."""
    specs: dict[str, list[dict[str, str]]] = {}
    for spec in read_csv_rows(figures_file):
        specs.setdefault(spec["figure_id"], []).append(spec)
    figures = []
    for figure_id, group in specs.items():
        href = link(figures_dir / f"{figure_id}.png", page_dir)
        if href is not None:
            reads = frozenset((spec["metrics"], spec["ours"]) for spec in group)
            figures.append(PageFigure(figure_id, group[0]["title"], href, reads))
    return figures


def claim_figures(metrics: str, json_path: str, figures: list[PageFigure]) -> list[PageFigure]:
    """The figures with a bar beside the claim's number, else every figure that reads its metrics file."""
    beside = [figure for figure in figures if figure.shows(metrics, json_path)]
    return beside or [figure for figure in figures if figure.shows(metrics)]


def claim_row(row: dict[str, str], figures: list[PageFigure], root: Path, page_dir: Path) -> dict[str, Any]:
    """A headline row with what the page adds: its metrics file and JSON path (from `source`, written as
    `file:path[ − control]`) with a link, its figures and its status's tone."""
    metrics, _, json_path = row["source"].partition(":")
    return {
        **row,
        "kind_text": KIND_TEXT.get(row["kind"], row["kind"]),
        "tone": STATUS_TONES.get(row["status"], "none"),
        "metrics_file": metrics,
        "metrics_href": link(root / metrics, page_dir),
        "json_path": json_path,
        "figures": claim_figures(metrics, json_path.split(" ")[0], figures),
    }


def experiments(rows: list[dict[str, Any]], figures: list[PageFigure]) -> list[Experiment]:
    """The rows grouped by experiment (in the table's order), each with the figures its rows link to."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["experiment"], []).append(row)
    result = []
    for key, members in grouped.items():
        used = {figure.figure_id for row in members for figure in row["figures"]}
        settings = {(row["setting"], row["paper_setting"]) for row in members}
        shared = dict(zip(("ours", "paper"), settings.pop(), strict=True)) if len(settings) == 1 else None
        result.append(
            Experiment(key, EXPERIMENTS.get(key, key), members, [f for f in figures if f.figure_id in used], shared)
        )
    return result


def status_summary(groups: list[Experiment]) -> tuple[list[str], list[dict[str, Any]]]:
    """The statuses that occur (in the order of `STATUSES`) and, per experiment, its name and count of each."""
    table = [{"name": g.name, "claims": len(g.rows), "counts": status_counts(g.rows)} for g in groups]
    return [s for s in STATUSES if any(entry["counts"][s] for entry in table)], table


def provenance_cells(row: dict[str, str], root: Path, page_dir: Path) -> dict[str, Cell]:
    packages = ", ".join(f"{name} {row[name]}" for name in PACKAGES if row.get(name))
    record = row.get("record", "")
    cells = {key: Cell(row.get(key, "")) for key in PROVENANCE_COLUMNS}
    cells["commit"] = Cell(row.get("commit", ""), note="uncommitted changes" if row.get("dirty") == "true" else "")
    cells["packages"] = Cell(packages)
    cells["record"] = Cell(record, link(root / record, page_dir) if record else None)
    return cells


def provenance_table(rows: list[dict[str, str]], root: Path, page_dir: Path) -> dict[str, Any]:
    """Columns, rows of cells, and the values every run shares (said once, not in every row)."""
    cells = [provenance_cells(row, root, page_dir) for row in rows]
    shared = [key for key in SHARED_COLUMNS if cells and len({c[key] for c in cells}) == 1]
    columns = {key: label for key, label in PROVENANCE_COLUMNS.items() if key not in shared}
    return {
        "columns": columns,
        "rows": [[c[key] for key in columns] for c in cells],
        "shared": {PROVENANCE_COLUMNS[key]: cells[0][key] for key in shared},
    }


def page_context(cfg: ReportParams, results_dir: Path | str, root: Path | str = ".") -> dict[str, Any]:
    """Everything the template shows, read from stage `report`'s files (paths in them are relative to `root`)."""
    root, page_dir = Path(root), Path(results_dir)
    folder = report_dir(page_dir)
    headline = folder / HEADLINE_FILE
    if not headline.exists():
        raise FileNotFoundError(f"{headline}: run `dvc repro report` first")
    figures = page_figures(root / cfg.figures, folder / FIGURES_DIR, page_dir)
    rows = [claim_row(row, figures, root, page_dir) for row in read_csv_rows(headline)]
    groups = experiments(rows, figures)
    statuses, counts = status_summary(groups)
    provenance = folder / PROVENANCE_FILE
    return {
        "title": HTML_TITLE,
        "summary": summary_line(rows),
        "statuses": statuses,
        "tones": STATUS_TONES,
        "counts": counts,
        "experiments": groups,
        "provenance": provenance_table(read_csv_rows(provenance) if provenance.exists() else [], root, page_dir),
        "links": {
            "headline": link(headline, page_dir),
            "provenance": link(provenance, page_dir),
            "status_rule": link(root / STATUS_RULE, page_dir),
        },
    }


def render_page(context: dict[str, Any]) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template(TEMPLATE).render(context)


def export_html(section: ReportParams, results_dir: Path | str, root: Path | str = ".") -> Path:
    """`results_dir`/report.html from stage `report`'s files in the folder above `results_dir`.

    Called by the runner as function(section, results_dir); the section gives `figures` (report_figures.csv)."""
    return write_text_atomic(Path(results_dir) / PAGE_NAME, render_page(page_context(section, results_dir, root)))
