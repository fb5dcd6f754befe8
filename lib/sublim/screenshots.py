"""Screenshots of what users see: the report, every executed notebook and the lesson, as headless Chromium draws them.

    python -m sublim.screenshots [--results results] [--out results/screenshots] [--chromium PATH]

Pages: `results/report/html/report.html` and `results/demo/lesson.html` (each when present), and every executed
notebook under results/ (`**/*.ipynb`; one with its own .html beside it is that page), each rendered to HTML without
its code (as `jupyter nbconvert --to html --no-input`) in a temporary folder. Each page becomes one PNG in the output
folder (named after its path under results/, `/` as `__`), and `index.html` there lists them all. Needs Chromium
(`--chromium`, else the `SUBLIM_CHROMIUM` variable, else the first of `CHROMIUM_PATHS` found); without it the command
stops and says so.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path("results")
OUT = RESULTS / "screenshots"
REPORT_HTML = Path("report/html/report.html")  # under results/
LESSON_HTML = Path("demo/lesson.html")  # under results/
CHROMIUM_VARIABLE = "SUBLIM_CHROMIUM"
CHROMIUM_PATHS = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
WINDOW = (1366, 4000)  # pixels: a laptop's width, tall enough for several figures
SKIPPED_FOLDERS = (".ipynb_checkpoints",)


class ChromiumMissing(RuntimeError):
    """No Chromium to take the screenshots with."""


@dataclass(frozen=True)
class Page:
    """One thing users see: its source under results/ and the HTML Chromium opens."""

    source: Path  # relative to the results folder
    html: Path


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium to use: `explicit`, else $SUBLIM_CHROMIUM, else the first of `CHROMIUM_PATHS` found."""
    candidates = [explicit] if explicit else [os.environ.get(CHROMIUM_VARIABLE) or "", *CHROMIUM_PATHS]
    for candidate in filter(None, candidates):
        found = shutil.which(candidate)
        if found:
            return found
    raise ChromiumMissing(
        f"no Chromium found (tried {', '.join(filter(None, candidates))}): install it (Debian/Ubuntu: "
        f"`apt-get install chromium`) or pass its path with --chromium or ${CHROMIUM_VARIABLE}"
    )


def executed_notebooks(results: Path, out: Path) -> list[Path]:
    """Every .ipynb under `results` (sorted), except checkpoints, anything under the output folder, and a notebook
    with its own HTML beside it (the lesson's: that page is the one users open)."""
    notebooks = []
    for path in sorted(results.rglob("*.ipynb")):
        skipped = any(part in SKIPPED_FOLDERS for part in path.parts) or path.with_suffix(".html").is_file()
        if skipped or path.resolve().is_relative_to(out.resolve()):
            continue
        notebooks.append(path)
    return notebooks


def notebook_html(notebook: Path, folder: Path, name: str) -> Path:
    """The notebook as an HTML page without code cells' input (nbconvert's `--no-input`), written into `folder`."""
    import nbformat  # deferred: seconds to import, and finding Chromium needs none of it
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    path = folder / f"{name}.html"
    path.write_text(body, encoding="utf-8")
    return path


def shot_name(source: Path) -> str:
    """A flat file name for a page's screenshot: its path under results/ with `/` as `__`, without the suffix."""
    return "__".join(source.with_suffix("").parts)


def pages(results: Path, out: Path, html_folder: Path) -> list[Page]:
    """The report, the lesson's HTML and every executed notebook (as HTML in `html_folder`)."""
    found = [Page(path, results / path) for path in (REPORT_HTML, LESSON_HTML) if (results / path).is_file()]
    for notebook in executed_notebooks(results, out):
        source = notebook.relative_to(results)
        found.append(Page(source, notebook_html(notebook, html_folder, shot_name(source))))
    return found


def screenshot(chromium: str, page: Path, png: Path, window: tuple[int, int] = WINDOW, timeout: float = 120) -> Path:
    """Headless Chromium's screenshot of `page` (a local HTML file) into `png`."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={window[0]},{window[1]}",
        f"--screenshot={png.resolve()}",
        page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if not png.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot of {page} (exit {result.returncode}): {result.stderr[-500:]}")
    return png


def write_index(shots: list[tuple[Page, Path]], out: Path) -> Path:
    """index.html in `out`: each page's source path and its screenshot."""
    items = "\n".join(
        f'<h2>{html.escape(str(page.source))}</h2>\n<a href="{html.escape(png.name)}">'
        f'<img src="{html.escape(png.name)}" alt="{html.escape(str(page.source))}" width="683"></a>'
        for page, png in shots
    )
    body = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Screenshots</title></head>\n<body>\n'
        f"<h1>What users see ({len(shots)} pages)</h1>\n<p>Written by <code>python -m sublim.screenshots</code>; "
        f"each image opens at full size.</p>\n{items}\n</body></html>\n"
    )
    index = out / "index.html"
    index.write_text(body, encoding="utf-8")
    return index


def take_screenshots(
    results: Path = RESULTS, out: Path = OUT, chromium: str | None = None, window: tuple[int, int] = WINDOW
) -> list[tuple[Page, Path]]:
    """Screenshot every page under `results` into `out` (a `window` of width × height pixels: the top of a longer
    page) and write its index; (page, PNG) pairs."""
    browser = find_chromium(chromium)
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with tempfile.TemporaryDirectory(prefix="sublim-screenshots-") as folder:
        for page in pages(results, out, Path(folder)):
            png = screenshot(browser, page.html, out / f"{shot_name(page.source)}.png", window)
            print(f"{page.source} -> {png}")
            shots.append((page, png))
    write_index(shots, out)
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sublim.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the pages (default: results)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the PNGs and index.html")
    parser.add_argument("--chromium", help=f"Chromium's path (default: ${CHROMIUM_VARIABLE}, then {CHROMIUM_PATHS})")
    parser.add_argument(
        "--height", type=int, default=WINDOW[1], help=f"pixels from the top of each page (default {WINDOW[1]})"
    )
    args = parser.parse_args(argv)
    try:
        shots = take_screenshots(args.results, args.out, args.chromium, (WINDOW[0], args.height))
    except ChromiumMissing as err:
        print(f"sublim.screenshots: {err}", file=sys.stderr)
        return 1
    print(f"{len(shots)} screenshots; index: {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
