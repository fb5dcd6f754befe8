"""The report: the status rule on its edges, the table from fake metrics, figures, provenance, README sync."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
import yaml

from sublim import readme
from sublim.report import report
from sublim.sections import validate_section
from sublim.report.report import Estimate, decide_status
from sublim.core.stats import compare, estimate

# ---------------------------------------------------------------- the status rule


def est(mean: float, low: float | None, high: float | None, n: int | None = 5) -> Estimate:
    return Estimate(mean, low, high, n)


@pytest.mark.parametrize(
    ("ours", "paper", "tolerance", "expected"),
    [
        (est(0.50, 0.45, 0.55), 0.53, 0.05, "reproduced"),  # paper inside the CI
        (est(0.50, 0.49, 0.51), 0.53, 0.05, "reproduced"),  # outside the CI, within tolerance
        (est(0.45, 0.44, 0.46), 0.53, 0.05, "not reproduced"),
        (est(1.0, None, None, None), 1.0, 0.0, "reproduced"),  # a plain number, exact
        (est(0.999, None, None, None), 1.0, 0.0, "not reproduced"),  # tolerance 0 means every trial
        (est(0.12, 0.10, 0.14), 0.10, 0.0, "reproduced"),  # the CI's edge counts as inside
    ],
)
def test_level_claims(ours, paper, tolerance, expected):
    assert decide_status("level", ours, paper, tolerance=tolerance)[0] == expected


@pytest.mark.parametrize(
    ("ours", "paper", "direction", "at_paper_scale", "expected"),
    [
        (est(0.40, 0.35, 0.45), 0.43, 1, True, "reproduced"),
        (est(0.30, 0.28, 0.32), 0.43, 1, True, "direction reproduced"),  # significant, smaller than the paper
        (est(0.40, 0.35, 0.45), 0.43, 1, False, "direction reproduced"),  # other model: magnitude not comparable
        (est(0.40, 0.35, 0.45), None, 1, True, "reproduced"),  # the paper states only the sign
        (est(-0.1, -0.2, -0.05), 0.43, 1, True, "not reproduced"),  # significant the other way
        (est(-0.1, -0.2, -0.05), 0.43, 1, False, "not reproduced"),
        (est(-1e-4, -2e-4, -5e-5), None, -1, True, "reproduced"),  # direction −: L_T goes down
        (est(0.02, -0.01, 0.05), 0.49, 1, False, "null at this scale"),
        (est(0.02, -0.01, 0.05), 0.43, 1, True, "not reproduced"),  # CI excludes the paper's effect
        (est(0.10, -0.10, 0.50), 0.43, 1, True, "null at this scale"),  # underpowered: paper's effect still inside
        (est(0.05, 0.0, 0.10), 0.05, 1, True, "null at this scale"),  # touching 0 is not significant
        (est(0.30, None, None, 1), 0.43, 1, True, "null at this scale"),  # one unit: no interval
    ],
)
def test_effect_claims(ours, paper, direction, at_paper_scale, expected):
    status, reason = decide_status("effect", ours, paper, direction=direction, at_paper_scale=at_paper_scale)
    assert status == expected, reason


def test_missing_metrics_are_not_run_and_bad_kinds_are_errors():
    assert decide_status("effect", None, 0.4)[0] == "not run"
    with pytest.raises(report.ReportError):
        decide_status("bigger", est(0.1, 0.0, 0.2), 0.4)
    with pytest.raises(report.ReportError):
        decide_status("level", est(0.1, 0.0, 0.2), None)


def test_the_rule_is_written_in_the_docstring_and_the_notebook(repo_root):
    notebook = nbformat.read(str(repo_root / "notebooks/report.ipynb"), as_version=4)
    markdown = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown").replace("\n", " ")
    for status in report.STATUSES:
        assert f"**{status}**" in report.__doc__.replace("\n", " ")
        assert f"**{status}**" in markdown, f"the notebook does not state when a claim is {status!r}"


# ---------------------------------------------------------------- numbers and paths


def test_estimates_from_metrics_nodes():
    assert report.as_estimate(estimate([1.0, 2.0, 3.0])) == Estimate(2.0, *estimate([1.0, 2.0, 3.0])["ci95"], 3)
    diff = compare([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    assert report.as_estimate(diff).mean == pytest.approx(1.5)
    assert report.as_estimate(0.75) == Estimate(0.75, None, None, None)
    assert report.as_estimate({"mean": 0.2, "ci95": [None, None], "n": 1}).has_interval is False
    with pytest.raises(report.ReportError):
        report.as_estimate({"accuracy": 0.9})
    shifted = report.as_estimate(estimate([1.0, 2.0, 3.0])).minus(2.0)
    assert shifted.mean == 0.0 and shifted.low < 0 < shifted.high


def test_paths_with_wildcards():
    data = {"m1": {"conditions": {"shared/aux/ce": {"x": 1}, "different/aux/ce": {"x": 2}}}, "items": [10, 20]}
    assert report.resolve(data, "items.1") == 20
    with pytest.raises(KeyError):
        report.resolve(data, "m1.nothing")
    assert report.expand(data, "*.conditions.shared/*/*.x") == [(("m1", "aux", "ce"), 1)]
    assert report.expand(data, "m1.conditions.*.x") == [(("shared/aux/ce",), 1), (("different/aux/ce",), 2)]
    assert report.expand(data, "m2.*") == []
    assert report.fill("{0}.{1} {name}", ("a", "b")) == "a.b {name}"
    assert report.instantiate("*.conditions.shared/*/*.x", ("m1", "aux", "ce")) == "m1.conditions.shared/aux/ce.x"


def test_paper_numbers(tmp_path):
    values = report.load_paper_values(write_paper_values(tmp_path / "values.csv"))
    assert report.paper_number("fig.owl.student", values).text == "≈0.62"
    effect = report.paper_number("fig.owl.student - fig.owl.control", values)
    assert effect.value == pytest.approx(0.49) and effect.approx and effect.text.startswith("≈+0.49")
    assert report.paper_number("0", values).value == 0.0
    assert report.paper_number("fig.cat.student", values) is None  # a trait the paper did not run
    assert report.paper_number("", values) is None


# ---------------------------------------------------------------- the table from fake metrics


PAPER_ROWS = [
    ("fig.owl.student", "Fig. 3", "0.62", "true", "≈0.62"),
    ("fig.owl.control", "Fig. 3", "0.13", "true", "≈0.13"),
    ("fig.teacher", "Fig. 10", "0.94", "true", "≈0.94"),
    ("fig.loss", "Thm. 1", "", "false", "negative"),
]
CLAIM_COLUMNS = ["claim_id", "experiment", "figure", "claim", "kind", "direction", "paper_value", "metrics", "ours",
                 "control", "paired", "at_paper_scale", "tolerance", "setting", "units", "readme"]  # fmt: skip
CLAIMS = [
    ["toy.teacher", "toy", "Fig. 10", "teacher accuracy", "level", "", "fig.teacher", "results/toy/metrics.json",
     "arms.teacher", "", "", "true", "", "toy MLP"],
    ["lm.{0}.gap", "lm", "Fig. 3", "{0} student above control", "effect", "+", "fig.{0}.student - fig.{0}.control",
     "results/lm/metrics.json", "traits.*.arms.student", "traits.{0}.arms.control", "true", "false", "", "tiny {0}"],
    ["lm.{0}.student", "lm", "Fig. 3", "{0} student level", "level", "", "fig.{0}.student",
     "results/lm/metrics.json", "traits.*.arms.student", "", "", "false", "", "tiny {0}"],
    ["th.loss", "th", "Thm. 1", "loss goes down", "effect", "-", "fig.loss", "results/th/metrics.json",
     "loss_change", "0", "", "true", "", "one step"],
    ["toy.missing_path", "toy", "Fig. 10", "an arm the toy does not write", "level", "", "fig.teacher",
     "results/toy/metrics.json", "arms.nothing", "", "", "true", "", "toy MLP"],
    ["gone.{0}", "gone", "Fig. 3", "{0} in a stage that never ran", "effect", "+", "fig.{0}.student",
     "results/gone/metrics.json", "traits.*.student", "", "", "false", "", "nothing {0}"],
    ["th.every_trial", "th", "Thm. 1", "every trial", "level", "", "1", "results/th/metrics.json",
     "fraction", "", "", "true", "0", "one step", "n_trials", "false"],
]  # fmt: skip
CLAIMS = [row + [""] * (len(CLAIM_COLUMNS) - len(row)) for row in CLAIMS]


def write_paper_values(path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["value_id", "figure", "quantity", "setting", "value", "approx", "paper_text"])
        writer.writerows(
            [vid, fig, "q", "paper model", value, approx, text] for vid, fig, value, approx, text in PAPER_ROWS
        )
    return path


def write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def write_metrics(root: Path) -> None:
    def dump(relative: str, data: dict) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    dump("results/toy/metrics.json", {"arms": {"teacher": estimate([0.93, 0.94, 0.95, 0.94])}})
    dump("results/lm/metrics.json", {"traits": {
        "owl": {"arms": {"student": estimate([0.20, 0.22, 0.19]), "control": estimate([0.08, 0.09, 0.08])}},
        "cat": {"arms": {"student": estimate([0.10, 0.12, 0.08]), "control": estimate([0.10, 0.09, 0.11])}},
    }})  # fmt: skip
    dump("results/th/metrics.json", {"loss_change": estimate([-1e-4, -2e-4, -1.5e-4]), "fraction": 1.0, "n_trials": 40})


@pytest.fixture
def fake_project(tmp_path) -> tuple[Path, report.ReportParams]:
    data = tmp_path / "data"
    data.mkdir()
    write_paper_values(data / "values.csv")
    write_csv(data / "claims.csv", CLAIM_COLUMNS, CLAIMS)
    write_csv(data / "figures.csv",
              ["figure_id", "title", "panel", "label", "color_key", "metrics", "ours", "paper_value", "ylabel"],
              [["fig3_lm", "toy Fig. 3", "{0}", "student", "student", "results/lm/metrics.json",
                "traits.*.arms.student", "fig.{0}.student", "P(trait)"],
               ["fig3_gone", "never ran", "", "x", "x", "results/gone/metrics.json", "x", "", "y"]])  # fmt: skip
    write_metrics(tmp_path)
    cfg = report.ReportParams(paper_values="data/values.csv", claims="data/claims.csv", figures="data/figures.csv",
                              tolerance=0.05, results_root="results", decimals=3)  # fmt: skip
    return tmp_path, cfg


def test_headline_table_from_fake_metrics(fake_project):
    root, cfg = fake_project
    rows = {row["claim_id"]: row for row in report.headline_table(cfg, root)}
    assert rows["toy.teacher"]["status"] == "reproduced"
    assert rows["toy.teacher"]["ours"].startswith("0.940 [")
    assert rows["lm.owl.gap"]["status"] == "direction reproduced"  # smaller model: at most the direction
    assert rows["lm.owl.gap"]["paper"].startswith("≈+0.49")
    assert rows["lm.cat.gap"]["status"] == "null at this scale" and rows["lm.cat.gap"]["paper"] == "—"
    assert "lm.cat.student" not in rows  # a level claim needs the paper's number; the paper ran no cat
    assert rows["lm.owl.student"]["status"] == "not reproduced"
    assert rows["th.loss"]["status"] == "reproduced" and rows["th.loss"]["ours"].startswith("-1.50e-04")
    assert rows["toy.missing_path"]["status"] == "not run" and "arms.nothing" in rows["toy.missing_path"]["reason"]
    assert rows["th.every_trial"]["status"] == "reproduced" and rows["th.every_trial"]["n"] == 40
    gone = rows["gone.*"]
    assert (
        gone["status"] == "not run" and "missing" in gone["reason"] and gone["claim"] == "… in a stage that never ran"
    )
    assert rows["lm.owl.gap"]["source"] == "results/lm/metrics.json:traits.owl.arms.student − traits.owl.arms.control"


def test_headline_files_are_deterministic(fake_project, tmp_path):
    root, cfg = fake_project
    first = report.headline_csv_text(report.headline_table(cfg, root))
    assert first == report.headline_csv_text(report.headline_table(cfg, root))
    path = report.write_headline(report.headline_table(cfg, root), tmp_path / "out")
    assert path.read_text() == first
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary["status_counts"]["not run"] == 2 and summary["claims"]["toy.teacher"]["status"] == "reproduced"


def test_a_bad_claims_row_names_its_line(fake_project):
    root, cfg = fake_project
    claims = root / cfg.claims
    write_csv(claims, CLAIM_COLUMNS, [[*CLAIMS[0][:4], "bigger", *CLAIMS[0][5:]]])
    with pytest.raises(report.ReportError, match="line 2"):
        report.headline_table(cfg, root)


def test_figures_only_for_experiments_with_metrics(fake_project, tmp_path):
    root, cfg = fake_project
    paths = report.plot_figures(cfg, tmp_path / "out", root)
    assert [p.name for p in paths] == ["fig3_lm.png"] and paths[0].stat().st_size > 1000


def test_provenance_lists_every_run_record_but_the_reports_own(tmp_path):
    record = {"stage": "toy", "matrix": {"seed": 1, "trait": "owl"}, "git": {"commit": "a" * 40, "dirty": True},
              "packages": {"torch": "2.13.0"}, "device": "cpu", "threads": 1, "wall_s": 3.5,
              "python": "3.11.7"}  # fmt: skip
    for folder in ("toy/owl/1", "report"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "run_record.json").write_text(json.dumps(record))
    rows = report.provenance_rows(tmp_path)
    assert len(rows) == 1
    assert rows[0]["matrix"] == "seed=1 trait=owl" and rows[0]["commit"] == "a" * 12 and rows[0]["dirty"] is True
    table = report.write_provenance(rows, tmp_path / "out")
    assert list(table.columns) == report.PROVENANCE_COLUMNS
    assert (tmp_path / "out" / "provenance.csv").read_text().splitlines()[1].startswith("toy,seed=1 trait=owl,")


def test_html_export_of_the_executed_notebook(in_tmp_repo):
    executed = Path("results/report/report.ipynb")
    executed.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Report title")]), str(executed))
    html = report.export_html(None, Path("results/report/html"))  # type: ignore[arg-type]
    assert "Report title" in html.read_text()


# ---------------------------------------------------------------- README


def test_readme_section_round_trip(fake_project, tmp_path):
    root, cfg = fake_project
    headline = report.write_headline(report.headline_table(cfg, root), tmp_path / "out")
    readme_path = tmp_path / "README.md"
    readme_path.write_text(f"# Title\n\n## Results\n\n{readme.START}\nold\n{readme.END}\n\n## After\n")
    assert readme.out_of_sync(readme_path, headline, cfg, root) == [
        f"{readme_path}'s results section differs from {headline}: run `python -m sublim.readme`"
    ]
    assert readme.main(["--readme", str(readme_path), "--headline", str(headline)]) == 0
    text = readme_path.read_text()
    assert text.startswith("# Title\n\n## Results\n\n") and text.endswith(f"{readme.END}\n\n## After\n")
    assert "| **Fig. 3** owl student above control | ≈+0.49" in text and "old" not in text
    assert "every trial" not in text and "Detailed rows in the report only: 1." in text  # readme: false
    assert readme.out_of_sync(readme_path, headline, cfg, root) == []
    # new metrics make the committed table stale even though README still matches it
    (root / "results/toy/metrics.json").write_text(json.dumps({"arms": {"teacher": estimate([0.5, 0.6])}}))
    assert "differs from the metrics files" in readme.out_of_sync(readme_path, headline, cfg, root)[0]


def test_readme_without_markers_is_an_error(tmp_path):
    with pytest.raises(readme.ReadmeError, match="results:start"):
        readme.split_readme("# no markers here\n")


def test_readme_results_are_in_sync_with_the_committed_metrics(repo_root):
    """Fails when README.md's results, or results/report/headline.csv, no longer match the metrics files.

    Fix: `dvc repro report && python -m sublim.readme` (or `python -m sublim.run report` without DVC).
    """
    cfg = validate_section("report", yaml.safe_load((repo_root / "params.yaml").read_text())["report"])
    headline = repo_root / readme.HEADLINE
    assert headline.exists(), f"{headline} is missing: run `dvc repro report && python -m sublim.readme`"
    problems = readme.out_of_sync(repo_root / "README.md", headline, cfg, repo_root)  # type: ignore[arg-type]
    assert not problems, "\n".join(problems)


def test_readme_timings_sum_each_experiments_stages():
    rows = [
        {"stage": "mnist", "wall_s": "120", "device": "cpu: X (2 cores)"},
        {"stage": "llm_distill", "wall_s": "30", "device": "cpu: X (2 cores)"},
        {"stage": "llm_evaluate", "wall_s": "90", "device": "cpu: X (2 cores)"},
    ]
    text = readme.render_timings(rows)
    assert "| MNIST analogue | 2.0 min |" in text and "| LLM pipeline (SmolLM2) | 2.0 min |" in text
    assert "**all stages** | **4.0 min**" in text and "cpu: X (2 cores)" in text
    section = readme.updated_readme(
        f"a {readme.TIMINGS_START}old{readme.TIMINGS_END} b", text, readme.TIMINGS_START, readme.TIMINGS_END
    )
    assert section.startswith("a <!-- timings:start -->\n| Experiment") and section.endswith("<!-- timings:end --> b")
