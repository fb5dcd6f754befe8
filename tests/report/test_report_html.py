"""Stage `report_html`: the executed notebook as one HTML page; and what `sublim.report` may import."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from sublim.report import html
from sublim.stages import STAGES


def test_html_export_of_the_executed_notebook(in_tmp_repo):
    executed = Path("results/report/report.ipynb")
    executed.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Report title")]), str(executed))
    page = html.export_html(None, Path("results/report/html"))  # type: ignore[arg-type]
    assert "Report title" in page.read_text() and html.HTML_TITLE in page.read_text()
    with pytest.raises(FileNotFoundError, match="dvc repro report"):
        html.export_html(None, Path("elsewhere/html"))  # type: ignore[arg-type]


def test_the_html_stage_reads_the_notebook_that_stage_report_writes():
    report, export = STAGES["report"], STAGES["report_html"]
    written = Path(report.results_dir) / Path(report.notebook).name  # type: ignore[arg-type]
    assert html.executed_notebook(export.results_dir) == written


def test_the_report_imports_nothing_from_the_front_door(repo_root):
    """`sublim.report` is a library: the runner, the stages and the section registry call it, not the reverse."""
    front_door = ("sublim.stages", "sublim.run", "sublim.sections", "sublim.readme")
    for path in sorted((repo_root / "lib/sublim/report").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
            assert not [n for n in names if n.startswith(front_door)], f"{path.name} imports {names}"
