"""The status rule on its edges, and our numbers read from metrics nodes."""

from __future__ import annotations

import nbformat
import pytest

from sublim.core.stats import compare, estimate
from sublim.report import status
from sublim.report.status import Estimate, ReportError, as_estimate, decide_status


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
    result, reason = decide_status("effect", ours, paper, direction=direction, at_paper_scale=at_paper_scale)
    assert result == expected, reason


def test_missing_metrics_are_not_run_and_bad_kinds_are_errors():
    assert decide_status("effect", None, 0.4)[0] == "not run"
    with pytest.raises(ReportError):
        decide_status("bigger", est(0.1, 0.0, 0.2), 0.4)
    with pytest.raises(ReportError):
        decide_status("level", est(0.1, 0.0, 0.2), None)


def test_the_rule_is_written_in_the_docstring_and_the_notebook(repo_root):
    notebook = nbformat.read(str(repo_root / "notebooks/report.ipynb"), as_version=4)
    markdown = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown").replace("\n", " ")
    for name in status.STATUSES:
        assert f"**{name}**" in status.__doc__.replace("\n", " ")
        assert f"**{name}**" in markdown, f"the notebook does not state when a claim is {name!r}"


def test_status_counts_list_every_status_in_order():
    counts = status.status_counts([{"status": "not run"}, {"status": "reproduced"}, {"status": "not run"}])
    assert list(counts) == list(status.STATUSES)
    assert counts["not run"] == 2 and counts["reproduced"] == 1 and counts["null at this scale"] == 0


def test_estimates_from_metrics_nodes():
    assert as_estimate(estimate([1.0, 2.0, 3.0])) == Estimate(2.0, *estimate([1.0, 2.0, 3.0])["ci95"], 3)
    diff = compare([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    assert as_estimate(diff).mean == pytest.approx(1.5)
    assert as_estimate(0.75) == Estimate(0.75, None, None, None)
    assert as_estimate({"mean": 0.2, "ci95": [None, None], "n": 1}).has_interval is False
    with pytest.raises(ReportError):
        as_estimate({"accuracy": 0.9})
    shifted = as_estimate(estimate([1.0, 2.0, 3.0])).minus(2.0)
    assert shifted.mean == 0.0 and shifted.low < 0 < shifted.high
