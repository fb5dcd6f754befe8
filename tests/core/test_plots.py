"""Figures: the shared save path writes the same bytes for the same figure, with no software version in the PNG,
and seaborn's jitter is drawn from a fixed seed without touching numpy's global generator; in a notebook every
figure a cell draws shows below it (saved bytes unchanged) and the kernel writes no warning into the log."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
import seaborn as sns

from sublim.core.plots import save_figure, seeded_jitter
from sublim.run import KERNEL_NAME, execute_notebook


def strip_figure() -> plt.Figure:
    """A strip plot (seaborn jitters its points)."""
    fig, ax = plt.subplots(figsize=(3, 2))
    with seeded_jitter():
        sns.stripplot(x=[0] * 20 + [1] * 20, y=np.arange(40.0), ax=ax)
    return fig


def draw_strip(path: Path) -> bytes:
    """`strip_figure` saved through `save_figure`."""
    fig = strip_figure()
    save_figure(fig, path)
    plt.close(fig)
    return path.read_bytes()


def test_the_same_figure_saves_to_the_same_bytes_without_a_software_key(tmp_path):
    first = draw_strip(tmp_path / "first.png")
    np.random.random(7)  # whatever ran in between: the global generator's state does not matter
    second = draw_strip(tmp_path / "second.png")
    assert first == second
    assert first.startswith(b"\x89PNG") and b"Software" not in first and b"atplotlib" not in first


def test_seeded_jitter_restores_the_global_generator():
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    with seeded_jitter():
        np.random.random(5)
    assert np.array_equal(np.random.random(3), expected)


# the notebook's cells, as the stage notebooks draw: a figure saved in a cell that ends in `;`, two in a loop
FIGURE_CELLS = [
    f"import sys\nfrom pathlib import Path\n\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
    "from test_plots import save_figure, strip_figure",
    'save_figure(strip_figure(), Path(folder, "cell.png"));',
    'for name in ("first", "second"):\n    save_figure(strip_figure(), Path(folder, f"{name}.png"))',
]


def shown_images(cell: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


@pytest.mark.slow
def test_a_notebook_shows_each_figure_it_saves_with_the_bytes_saved_outside_a_kernel(tmp_path, capfd):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_NAME, "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("folder = ''", metadata={"tags": ["parameters"]})]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in FIGURE_CELLS]
    nbformat.write(notebook, str(tmp_path / "figures.ipynb"))
    execute_notebook(tmp_path / "figures.ipynb", tmp_path / "executed.ipynb", {"folder": str(tmp_path)}, KERNEL_NAME)
    cells = nbformat.read(str(tmp_path / "executed.ipynb"), as_version=4).cells
    assert [shown_images(cell) for cell in cells if cell.source in FIGURE_CELLS] == [0, 1, 2]
    assert (tmp_path / "cell.png").read_bytes() == draw_strip(tmp_path / "outside.png")
    assert "without encryption" not in capfd.readouterr().err  # the kernel's log stays out of `dvc repro`'s
