"""The status rule, kind by kind: for each, a result that must pass and one that must fail; our numbers from
metrics nodes."""

from __future__ import annotations

import nbformat
import pytest

from sublim.core.stats import compare, estimate
from sublim.report import status
from sublim.report.status import Estimate, ReportError, Rule, as_estimate, decide_status


def est(mean: float, low: float | None, high: float | None, n: int | None = 5) -> Estimate:
    return Estimate(mean, low, high, n)


def decided(ours: Estimate | None, kind: str, **rule) -> str:
    return decide_status(ours, Rule(kind, **rule))[0]


# ---------------------------------------------------------------- level: our value vs the paper's


@pytest.mark.parametrize(
    ("ours", "paper", "tolerance", "expected"),
    [
        (est(0.50, 0.45, 0.55), 0.53, 0.05, "reproduced"),  # paper inside the CI
        (est(0.50, 0.49, 0.51), 0.53, 0.05, "reproduced"),  # outside the CI, within tolerance
        (est(0.45, 0.44, 0.46), 0.53, 0.05, "not reproduced"),  # must fail: far and outside
        (est(0.12, 0.10, 0.14), 0.10, 0.0, "reproduced"),  # the CI's edge counts as inside
        (est(0.53, 0.10, 0.90, 2), 0.53, 0.05, "too few runs"),  # n = 2: the t interval says nothing
        (est(0.53, 0.53, 0.53, 4), 0.53, 0.05, "too few runs"),  # zero width: every unit the same
        (est(0.012, None, None, None), 0.01, 0.05, "reproduced"),  # a plain number (the base model): tolerance
        (est(0.30, None, None, None), 0.01, 0.05, "not reproduced"),
    ],
)
def test_level(ours, paper, tolerance, expected):
    assert decided(ours, "level", paper=paper, tolerance=tolerance) == expected


# ---------------------------------------------------------------- effect: treated vs our own control


@pytest.mark.parametrize(
    ("ours", "paper", "direction", "at_paper_scale", "expected"),
    [
        (est(0.40, 0.35, 0.45), 0.43, 1, True, "reproduced"),
        (est(0.30, 0.28, 0.32), 0.43, 1, True, "direction reproduced"),  # significant, smaller than the paper
        (est(0.40, 0.35, 0.45), 0.43, 1, False, "direction reproduced"),  # other model: magnitude not comparable
        (est(0.40, 0.35, 0.45), None, 1, True, "reproduced"),  # the paper states only the sign
        (est(-0.1, -0.2, -0.05), 0.43, 1, True, "not reproduced"),  # must fail: significant the other way
        (est(-0.1, -0.2, -0.05), 0.43, 1, False, "not reproduced"),
        (est(-1e-4, -2e-4, -5e-5), None, -1, True, "reproduced"),  # direction −: L_T goes down
        (est(0.02, -0.01, 0.05), 0.49, 1, False, "null at this scale"),  # not detected in a smaller setting
        (est(0.02, -0.01, 0.05), 0.43, 1, True, "not reproduced"),  # at the paper's scale: effect ruled out
        (est(0.02, -0.01, 0.05), None, 1, True, "not reproduced"),  # at the paper's scale: not detected
        (est(0.10, -0.10, 0.50), 0.43, 1, True, "inconclusive"),  # underpowered: 0 and the paper both inside
        (est(0.05, 0.0, 0.10), 0.05, 1, False, "null at this scale"),  # touching 0 is not significant
        (est(0.30, None, None, 1), 0.43, 1, True, "too few runs"),  # one unit: no interval
        (est(0.30, 0.29, 0.31, 2), 0.43, 1, False, "too few runs"),  # two units: no status
    ],
)
def test_effect(ours, paper, direction, at_paper_scale, expected):
    result, reason = decide_status(ours, Rule("effect", paper, direction, at_paper_scale))
    assert result == expected, reason


def test_two_identical_runs_are_too_few_not_an_effect():
    """The issue's example: two identical seeds give a zero-width interval and p = 0 from a naive t-test."""
    comparison = compare([0.04, 0.04], [0.02, 0.02])
    assert comparison["p_value"] is None  # the test is undefined, not significant
    ours = as_estimate(comparison)
    result, reason = decide_status(ours, Rule("effect", None, 1, False))
    assert result == "too few runs" and "at least 3" in reason
    three = as_estimate(compare([0.04, 0.04, 0.04], [0.02, 0.02, 0.02]))
    assert decide_status(three, Rule("effect", None, 1, False))[0] == "too few runs"  # zero width


def test_effect_whose_control_arm_moved_as_much_is_confounded():
    """Student − base is significant, but the control student (same fine-tuning, no trait) rose as much: the
    claim's excess over its control arm, treated − control arm, has a CI that contains 0."""
    student, control, base = [0.00051, 0.00049, 0.00050], [0.00050, 0.00049, 0.00048], 0.000198
    ours = as_estimate(estimate(student)).minus(base)
    moved_as_much = as_estimate(compare(student, control))
    result, reason = decide_status(ours, Rule("effect", None, 1, False, confound=moved_as_much))
    assert result == "confounded" and "as much" in reason
    trait_only = as_estimate(compare(student, [0.00022, 0.00019, 0.00020]))  # the control arm stayed put
    assert decided(ours, "effect", at_paper_scale=False, confound=trait_only) == "direction reproduced"
    less = as_estimate(compare([0.00051, 0.00049, 0.00050], [0.0006, 0.0007, 0.0008]))  # control rose more
    assert decided(ours, "effect", at_paper_scale=False, confound=less) == "confounded"


# ---------------------------------------------------------------- null: no effect expected, within a margin


@pytest.mark.parametrize(
    ("ours", "margin", "expected"),
    [
        (est(0.0, -0.02, 0.03), 0.05, "reproduced"),  # inside ±margin
        (est(0.20, 0.15, 0.25), 0.05, "not reproduced"),  # must fail: an effect where none is expected
        (est(0.04, 0.01, 0.07), 0.05, "not reproduced"),  # must fail: above 0 and not shown to be inside the margin
        (est(0.01, 0.002, 0.02), 0.05, "reproduced"),  # detected, but smaller than the margin (equivalence)
        (est(-0.20, -0.25, -0.15), 0.05, "not reproduced"),
        (est(0.0, -0.10, 0.10), 0.05, "inconclusive"),  # holds 0 and effects larger than the margin
        (est(0.0, -0.01, 0.01, 2), 0.05, "too few runs"),
    ],
)
def test_null(ours, margin, expected):
    assert decided(ours, "null", margin=margin) == expected


def test_a_null_detected_inside_its_margin_says_so():
    status = decide_status(est(0.01, 0.002, 0.02), Rule("null", margin=0.05))
    assert status[0] == "reproduced" and "above 0: an effect smaller than the margin" in status[1]


def test_a_null_needs_a_margin():
    with pytest.raises(ReportError, match="margin"):
        decided(est(0.0, -0.02, 0.03), "null")


# ---------------------------------------------------------------- check: a proof's sanity check


@pytest.mark.parametrize(
    ("ours", "rule", "expected"),
    [
        (est(1.0, None, None, 50), {"paper": 1.0, "tolerance": 0.0}, "check passed"),  # every trial
        (est(0.98, None, None, 50), {"paper": 1.0, "tolerance": 0.0}, "check failed"),  # one trial against it
        (est(1.0, None, None, 2), {"paper": 1.0, "tolerance": 0.0}, "too few runs"),
        (est(-1e-4, -2e-4, -5e-5), {"direction": -1}, "check passed"),  # an estimate on the stated side
        (est(-1e-4, -2e-4, 1e-5), {"direction": -1}, "check failed"),
    ],
)
def test_check(ours, rule, expected):
    assert decided(ours, "check", **rule) == expected


# ---------------------------------------------------------------- the rest


def test_missing_metrics_are_not_run_and_bad_rules_are_errors():
    assert decided(None, "effect", paper=0.4) == "not run"
    with pytest.raises(ReportError):
        decided(est(0.1, 0.0, 0.2), "bigger", paper=0.4)
    with pytest.raises(ReportError):
        decided(est(0.1, 0.0, 0.2), "level")
    with pytest.raises(ReportError):
        decided(est(0.1, 0.0, 0.2), "effect", direction=2)


def test_the_rule_is_written_in_the_docstring_and_the_notebook(repo_root):
    notebook = nbformat.read(str(repo_root / "notebooks/report.ipynb"), as_version=4)
    markdown = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown").replace("\n", " ")
    for name in (*status.STATUSES, *status.KINDS):
        assert f"**{name}**" in status.__doc__.replace("\n", " ")
        assert f"**{name}**" in markdown, f"the notebook does not state {name!r}"


def test_status_counts_list_every_status_in_order_and_kinds_apart():
    rows = [
        {"status": "not run", "kind": "effect"},
        {"status": "reproduced", "kind": "level"},
        {"status": "check passed", "kind": "check"},
    ]
    counts = status.status_counts(rows)
    assert list(counts) == list(status.STATUSES)
    assert counts["not run"] == 1 and counts["reproduced"] == 1 and counts["null at this scale"] == 0
    assert status.kind_counts(rows) == {
        "experimental": {"reproduced": 1, "not run": 1},
        "check": {"check passed": 1},
    }


def test_estimates_from_metrics_nodes():
    three = estimate([1.0, 2.0, 3.0])
    assert as_estimate(three) == Estimate(2.0, *three["ci95"], 3)
    diff = compare([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    assert as_estimate(diff).mean == pytest.approx(1.5) and as_estimate(diff).interval == "paired t-test, n = 3"
    assert as_estimate(0.75) == Estimate(0.75, None, None, None)
    assert as_estimate(0.75).interval == "none (a plain number)"
    assert as_estimate({"mean": 0.2, "ci95": [None, None], "n": 1}).has_interval is False
    with pytest.raises(ReportError):
        as_estimate({"accuracy": 0.9})
    shifted = as_estimate(three).minus(2.0)
    assert shifted.mean == 0.0 and shifted.low < 0 < shifted.high
