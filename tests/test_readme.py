"""README.md's generated sections: the markers, the timings table, and the committed results kept in sync."""

from __future__ import annotations

import pytest
import yaml

from sublim import readme
from sublim.sections import validate_section


def test_readme_without_markers_is_an_error():
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
