"""Stage `report_html`: the executed report notebook as one self-contained HTML page.

A separate stage because a notebook cannot export itself while papermill runs it; it depends on the executed
notebook that stage `report` writes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from sublim.core.io import write_text_atomic
from sublim.report.config import ReportParams

HTML_TITLE = "Subliminal learning: the report beside the paper"
EXECUTED_NAME = "report.ipynb"  # the name stage `report` gives its executed notebook (that of notebooks/report.ipynb)


def executed_notebook(results_dir: Path | str) -> Path:
    """Where stage `report` leaves its executed notebook: in the folder above this stage's results
    (`results/report/html` -> `results/report/report.ipynb`)."""
    return Path(results_dir).parent / EXECUTED_NAME


def export_html(section: ReportParams, results_dir: Path | str, executed: Path | str | None = None) -> Path:
    """`results_dir`/report.html from the executed notebook (default: `executed_notebook(results_dir)`).

    Called by the runner as function(section, results_dir); the section is not needed."""
    del section
    executed = Path(executed) if executed is not None else executed_notebook(results_dir)
    if not executed.exists():
        raise FileNotFoundError(f"{executed}: run `dvc repro report` first")
    notebook = nbformat.read(str(executed), as_version=4)
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": HTML_TITLE}})
    return write_text_atomic(Path(results_dir) / "report.html", html)
