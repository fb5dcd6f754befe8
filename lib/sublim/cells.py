"""Writes each stage notebook's parameters cell from the stage registry and `params.yaml`, and the cell before it
that makes the repository root the working folder.

    python -m sublim.cells            rewrite the cells (after adding a params key or a stage input)
    python -m sublim.cells --check    exit 1 when a cell's names differ from what the stage is given, or a
                                      notebook's first code cell is not the root cell

The cell holds literals only: the params keys the stage uses (with `params.yaml`'s values), the stage's matrix
values (the first allowed value of each), its results folder and its input/output paths. Papermill replaces the
cell's values with the stage's own when DVC runs it; the literals make the notebook runnable on its own.

The paths are relative to the repository root, where papermill starts the kernel; JupyterLab starts it in the
notebook's folder (an executed copy lies in results/...). So every notebook's first code cell (tagged `ROOT_TAG`)
changes to the root, found by walking up to `dvc.yaml`: "Run all" works on an executed copy, and under papermill the
cell changes nothing.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any

import nbformat

from sublim.core.params import DEFAULT_PARAMS_FILE
from sublim.run import select
from sublim.sections import load_params
from sublim.stages import STAGES, Stage, fill

HEADER = "# Parameters: written by `python -m sublim.cells` from params.yaml; papermill injects the run's values."
ROOT_TAG = "repository-root"
ROOT_CELL = """# Paths are relative to the repository root: work from it (JupyterLab starts in the notebook's folder).
# No warning that this kernel lacks ipywidgets: nothing here draws a progress bar in the notebook.
from sublim.core.runtime import quiet_tqdm_widgets, work_from_repository_root

work_from_repository_root()
quiet_tqdm_widgets()"""


def example_values(stage: Stage, params_file: Path | str = DEFAULT_PARAMS_FILE) -> dict[str, Any]:
    """What the stage's notebook is given, with the first allowed value of each matrix variable."""
    section = load_params(params_file)[stage.section]  # type: ignore[index]
    values = section.model_dump(mode="json")
    used = values if stage.uses is None else select(values, stage.uses)
    matrix = {key: _first(values, list_key, stage.matrix_examples.get(key)) for key, list_key in stage.matrix.items()}
    return {**used, **matrix, "results_dir": fill(stage.results_dir, matrix), **stage.paths(matrix)}


def _first(values: dict[str, Any], dotted: str, example: Any = None) -> Any:
    """The list's first value; the stage's declared example when params switch the matrix off ([])."""
    for part in dotted.split("."):
        values = values[part]
    return values[0] if values else example  # type: ignore[index]


def cell_source(values: dict[str, Any]) -> str:
    return "\n".join([HEADER, *(f"{name} = {literal(value, len(name) + 3)}" for name, value in values.items())])


def literal(value: Any, used: int = 0, indent: int = 0, width: int = 100) -> str:
    """A Python literal, on one line when it fits, else one dict item per line (ruff's layout)."""
    text = repr(value)
    if used + len(text) <= width:
        return text
    if isinstance(value, str):
        return _wrapped(value, indent, width)
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return _wrapped_numbers(value, indent, width)
    if not isinstance(value, dict) or not value:
        return text
    pad = " " * (indent + 4)
    items = [
        f"{pad}{key!r}: {literal(v, len(pad) + len(repr(key)) + 2, indent + 4, width)}," for key, v in value.items()
    ]
    return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"


def _wrapped_numbers(values: list[int | float], indent: int, width: int) -> str:
    """A long list of numbers, as many per line as fit (ruff's layout keeps it)."""
    pad = " " * (indent + 4)
    lines, line = [], ""
    for value in values:
        item = f"{value!r},"
        if line and len(pad) + len(line) + 1 + len(item) > width:
            lines.append(line)
            line = item
        else:
            line = f"{line} {item}" if line else item
    return "[\n" + "\n".join(pad + text for text in [*lines, line]) + "\n" + " " * indent + "]"


def _wrapped(text: str, indent: int, width: int) -> str:
    """A long string as implicitly joined pieces in parentheses, broken after spaces."""
    pad = " " * (indent + 4)
    pieces, piece = [], ""
    for word in text.split(" "):
        candidate = f"{piece} {word}" if piece else word
        if piece and len(pad) + len(repr(candidate + " ")) > width:
            pieces.append(piece + " ")
            piece = word
        else:
            piece = candidate
    pieces.append(piece)
    return "(\n" + "\n".join(pad + repr(p) for p in pieces) + "\n" + " " * indent + ")"


def declared_names(source: str) -> list[str]:
    """The names a parameters cell assigns (literals only; anything else is an error)."""
    names = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError("a parameters cell holds plain assignments of literals only")
        ast.literal_eval(node.value)
        names.append(node.targets[0].id)
    return names


def parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected exactly one cell tagged 'parameters', found {len(cells)}")
    return cells[0]


def first_code_cell(notebook: nbformat.NotebookNode) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")


def has_root_cell(notebook: nbformat.NotebookNode) -> bool:
    """Whether the first code cell is the root cell, as `place_root_cell` writes it."""
    cell = notebook.cells[first_code_cell(notebook)]
    return ROOT_TAG in cell.metadata.get("tags", []) and cell.source == ROOT_CELL


def place_root_cell(notebook: nbformat.NotebookNode) -> bool:
    """Make the first code cell the root cell (rewriting a tagged one, else inserting one); True on a change."""
    if has_root_cell(notebook):
        return False
    index = first_code_cell(notebook)
    cell = notebook.cells[index]
    if ROOT_TAG in cell.metadata.get("tags", []):
        cell.source = ROOT_CELL
    else:
        notebook.cells.insert(index, nbformat.v4.new_code_cell(ROOT_CELL, metadata={"tags": [ROOT_TAG]}))
    return True


def update(stage: Stage, params_file: Path | str, check: bool) -> str | None:
    """Rewrite (or check) one notebook's root and parameters cells; returns a problem description or None."""
    path = Path(stage.notebook)  # type: ignore[arg-type]
    notebook = nbformat.read(str(path), as_version=4)
    cell = parameters_cell(notebook)
    values = example_values(stage, params_file)
    if check:
        declared = set(declared_names(cell.source))
        expected = set(values)
        if declared != expected:
            return f"{path}: not given {sorted(declared - expected)}, not declared {sorted(expected - declared)}"
        if cell.source != cell_source(values):  # the same names with other values (a key renamed or removed inside)
            return f"{path}: the parameters cell's values differ from {params_file}: run `python -m sublim.cells`"
        return None if has_root_cell(notebook) else f"{path}: the first code cell is not the repository-root cell"
    changed = place_root_cell(notebook)
    source = cell_source(values)
    if cell.source != source:
        cell.source = source
        changed = True
    if changed:
        nbformat.write(notebook, str(path))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sublim.cells", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the cells; exit 1 on a difference")
    parser.add_argument("--params", default=str(DEFAULT_PARAMS_FILE))
    args = parser.parse_args(argv)
    problems = [p for s in STAGES.values() if s.notebook and (p := update(s, args.params, args.check))]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
