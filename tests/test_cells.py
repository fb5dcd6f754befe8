"""The generated cells: each notebook starts by working from the repository root, so that an executed copy (in
results/...) reruns in JupyterLab, whose kernel starts in the notebook's folder."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from sublim import cells
from sublim.run import KERNEL_ARGUMENTS, KERNEL_NAME


def notebook_with(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Demo")])
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def test_the_root_cell_goes_first_among_the_code_cells_once():
    notebook = notebook_with("x = 1", "print(x)")
    assert cells.place_root_cell(notebook) and cells.has_root_cell(notebook)
    assert [c.source for c in notebook.cells[1:]] == [cells.ROOT_CELL, "x = 1", "print(x)"]
    assert not cells.place_root_cell(notebook) and len(notebook.cells) == 4


def test_a_stale_root_cell_is_rewritten_in_place():
    notebook = notebook_with("x = 1")
    cells.place_root_cell(notebook)
    notebook.cells[1].source = "import os"
    assert not cells.has_root_cell(notebook)
    assert cells.place_root_cell(notebook) and [c.source for c in notebook.cells[1:]] == [cells.ROOT_CELL, "x = 1"]


@pytest.mark.slow
def test_an_executed_copy_reruns_from_its_own_folder(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "data.txt").write_text("read from the root")
    notebook = notebook_with("from pathlib import Path\n\nprint(Path('data.txt').read_text())")
    cells.place_root_cell(notebook)
    folder = tmp_path / "results" / "demo"  # where the runner leaves the executed copy
    folder.mkdir(parents=True)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        extra_arguments=list(KERNEL_ARGUMENTS),
        resources={"metadata": {"path": str(folder)}},  # the kernel starts here, as in JupyterLab
    )
    client.execute()
    assert notebook.cells[-1].outputs[0]["text"] == "read from the root\n"


def test_the_check_fails_when_a_parameters_cell_keeps_a_removed_inner_key(tmp_path, repo_root, monkeypatch):
    """The same top-level names with a key removed inside one of them (a nested section) is a stale cell."""
    import dataclasses
    import shutil

    from sublim.stages import STAGES

    monkeypatch.chdir(repo_root)
    stage = STAGES["tinylm_code"]
    copy = tmp_path / "tinylm_code.ipynb"
    shutil.copy(stage.notebook, copy)
    notebook = nbformat.read(str(copy), as_version=4)
    cell = cells.parameters_cell(notebook)
    cell.source = cell.source.replace("'fraction': 0.15,", "'fraction': 0.15, 'stale_key': 1,", 1)
    nbformat.write(notebook, str(copy))
    moved = dataclasses.replace(stage, notebook=str(copy))
    assert cells.update(stage, "params.yaml", check=True) is None
    assert "values differ" in cells.update(moved, "params.yaml", check=True)
