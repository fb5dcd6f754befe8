"""`python -m sublim.screenshots`: an executed notebook with a figure becomes a non-blank PNG, listed in index.html."""

from __future__ import annotations

import base64
import io

import nbformat
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from sublim import screenshots


def figure_png() -> str:
    """A small line plot as base64 PNG, as a kernel's inline backend sends it."""
    fig = Figure(figsize=(4, 3))
    fig.subplots().plot([0, 1, 2, 3], [0, 1, 4, 9], lw=3, color="tab:red")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def executed_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A tiny executed notebook"),
        nbformat.v4.new_code_cell(
            "plot()",
            execution_count=1,
            outputs=[
                nbformat.v4.new_output("display_data", data={"image/png": figure_png(), "text/plain": "<Figure>"})
            ],
        ),
    ]
    return notebook


@pytest.fixture
def chromium() -> str:
    try:
        return screenshots.find_chromium()
    except screenshots.ChromiumMissing as err:
        pytest.skip(f"Chromium is not installed: {err}")


def test_an_executed_notebook_becomes_a_non_blank_png_in_the_index(tmp_path, chromium):
    results, out = tmp_path / "results", tmp_path / "results" / "screenshots"
    (results / "stage").mkdir(parents=True)
    nbformat.write(executed_notebook(), str(results / "stage" / "stage.ipynb"))

    assert screenshots.main(["--results", str(results), "--out", str(out), "--chromium", chromium]) == 0

    png = out / "stage__stage.png"
    pixels = imread(png)[..., :3]
    assert pixels.shape[:2] == (screenshots.WINDOW[1], screenshots.WINDOW[0])
    assert pixels.std() > 0.01, "the screenshot is blank"
    red = (pixels[..., 0] > 0.6) & (pixels[..., 1] < 0.4) & (pixels[..., 2] < 0.4)
    assert red.sum() > 50, "the figure's red line is not in the screenshot"
    assert 'src="stage__stage.png"' in (out / "index.html").read_text()


def test_the_lesson_html_stands_for_its_notebook_and_checkpoints_are_skipped(tmp_path):
    results = tmp_path / "results"
    for path in ("demo/lesson.ipynb", "demo/lesson.html", "a/.ipynb_checkpoints/x.ipynb", "a/x.ipynb"):
        (results / path).parent.mkdir(parents=True, exist_ok=True)
        (results / path).write_text("{}")
    assert screenshots.executed_notebooks(results, results / "screenshots") == [results / "a" / "x.ipynb"]
    assert screenshots.shot_name(screenshots.LESSON_HTML) == "demo__lesson"


def test_a_missing_chromium_stops_with_a_message(tmp_path, capsys):
    missing = str(tmp_path / "no-chromium")
    with pytest.raises(screenshots.ChromiumMissing, match="no Chromium found"):
        screenshots.find_chromium(missing)
    assert screenshots.main(["--results", str(tmp_path), "--chromium", missing]) == 1
    assert "install it" in capsys.readouterr().err
