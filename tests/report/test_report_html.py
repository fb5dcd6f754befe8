"""Stage `report_html`: the page for readers rendered from the report's files; and what `sublim.report` may import."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sublim.report import claims, figures, html, provenance
from sublim.report.status import STATUSES
from sublim.stages import STAGES

HOSTILE_CLAIM = '<b>bold</b> & <script>alert("x")</script>'
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


class Links(HTMLParser):
    """Every href and src of a page, and every id."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.targets += [values[key] or "" for key in ("href", "src") if key in values]
        if values.get("id"):
            self.ids.add(values["id"] or "")


def write_record(root: Path, stage: str, matrix: dict[str, str], wall_s: float) -> None:
    record = {
        "stage": stage,
        "matrix": matrix,
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "device": "cpu: a test CPU",
        "threads": 2,
        "wall_s": wall_s,
        "python": "3.11.7",
        "packages": {"torch": "2.13.0", "numpy": "2.4.6"},
    }
    path = root / "results/records" / f"{stage}{''.join(f'-{v}' for v in matrix.values())}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


@pytest.fixture
def report_page(fake_project) -> tuple[Path, list[dict], Path]:
    """(page, headline rows, root): stage `report`'s files for the fake project, one claim's text made hostile."""
    root, cfg = fake_project
    rows = claims.headline_table(cfg, root)
    rows[0]["claim"] = HOSTILE_CLAIM
    folder = root / "results/report"
    assert claims.write_headline(rows, folder).name == html.HEADLINE_FILE
    assert {path.parent.name for path in figures.plot_figures(cfg, folder, root)} == {html.FIGURES_DIR}
    write_record(root, "toy", {}, 12.5)
    write_record(root, "lm", {"seed": "1"}, 3.0)
    provenance.write_provenance(provenance.provenance_rows(root / "results/records"), folder)
    assert (folder / html.PROVENANCE_FILE).exists()
    return html.export_html(cfg, folder / "html", root), rows, root


def claim_cells(text: str) -> dict[str, str]:
    """Each claim's table row, by claim id."""
    return dict(re.findall(r'<tr id="claim-([^"]+)">(.*?)</tr>', text, flags=re.S))


def test_the_page_has_every_claim_with_its_status_and_no_code(report_page):
    page, rows, _ = report_page
    text = page.read_text()
    cells = claim_cells(text)
    assert sorted(cells) == sorted(row["claim_id"] for row in rows)  # grouped by experiment
    for row in rows:
        assert f">{row['status']}</span>" in cells[row["claim_id"]], row["claim_id"]
        assert row["reason"].replace("'", "&#39;") in cells[row["claim_id"]]
    assert "owl student above control" in text and "…" not in cells["lm.owl.gap"]  # claims in full
    for code in ("In [", "In&nbsp;[", "jp-Cell", "jp-InputArea", "<script", "import ", "decimals ="):
        assert code not in text, code


def test_the_page_escapes_the_text_it_shows(report_page):
    text = report_page[0].read_text()
    assert "<b>bold</b>" not in text and "<script" not in text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text


def test_every_link_resolves_offline(report_page):
    page = report_page[0]
    links = Links()
    links.feed(page.read_text())
    assert links.targets
    for target in links.targets:
        assert "://" not in target and not target.startswith("/"), f"{target}: not a relative link"
        if target.startswith("#"):
            assert target[1:] in links.ids, target
        else:
            assert (page.parent / target).resolve().is_file(), target
    assert "../../lm/metrics.json" in links.targets and "../figures/fig3_lm.png" in links.targets


def test_claims_link_their_metrics_file_and_figure(report_page):
    cells = claim_cells(report_page[0].read_text())
    owl = cells["lm.owl.gap"]
    assert 'href="../../lm/metrics.json"' in owl and 'href="../figures/fig3_lm.png"' in owl
    assert 'href="../../toy/metrics.json"' in cells["toy.teacher"] and "figure:" not in cells["toy.teacher"]
    gone = cells["gone.*"]  # a stage that never ran: its metrics file named, not linked
    assert "results/gone/metrics.json (not written)" in gone and "href" not in gone


def test_provenance_says_shared_values_once(report_page):
    text = report_page[0].read_text()
    section = text[text.index('<section id="provenance">') :]
    assert "Every run: commit <b>0123456789ab</b>; device <b>cpu: a test CPU</b>" in section
    assert '<th class="col-device">' not in section and '<td class="col-wall_s">12.5</td>' in section
    assert "seed=1" in section


def test_the_page_is_the_same_bytes_for_the_same_files(report_page, fake_project):
    page, _, root = report_page
    first = page.read_bytes()
    assert html.export_html(fake_project[1], page.parent, root).read_bytes() == first


def test_the_page_needs_the_report(fake_project):
    root, cfg = fake_project
    with pytest.raises(FileNotFoundError, match="dvc repro report"):
        html.export_html(cfg, root / "elsewhere/html", root)


def test_every_status_has_a_tone():
    assert set(html.STATUS_TONES) == set(STATUSES)


def test_the_html_stage_reads_the_files_that_stage_report_writes():
    report, export = STAGES["report"], STAGES["report_html"]
    assert html.report_dir(export.results_dir) == Path(report.results_dir)
    assert {f"{report.results_dir}/{name}" for name in html.REPORT_FILES} <= set(export.reads)
    assert f"lib/sublim/report/templates/{html.TEMPLATE}" in export.reads and export.uses == ("figures",)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium")
def test_the_page_fits_a_laptop_screen(report_page, tmp_path):
    """At 1366 px the page wraps instead of overflowing (a script in a copy beside it reports the widths)."""
    page = report_page[0]
    probe = page.with_name("probe.html")
    widths = "`${document.documentElement.scrollWidth} ${innerWidth}`"
    script = f"addEventListener('load', () => {{ document.title = {widths}; }});"
    probe.write_text(page.read_text().replace("</body>", f"<script>{script}</script></body>"))
    dom = subprocess.run(
        [CHROMIUM, *HEADLESS, "--window-size=1366,900", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    scroll_width, window_width = map(int, re.search(r"<title>(\d+) (\d+)</title>", dom).groups())  # type: ignore[union-attr]
    assert window_width == 1366 and scroll_width <= window_width


def test_the_report_imports_nothing_from_the_front_door(repo_root):
    """`sublim.report` is a library: the runner, the stages and the section registry call it, not the reverse."""
    front_door = ("sublim.stages", "sublim.run", "sublim.sections", "sublim.readme")
    for path in sorted((repo_root / "lib/sublim/report").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
            assert not [n for n in names if n.startswith(front_door)], f"{path.name} imports {names}"
