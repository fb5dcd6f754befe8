"""The status rule: each claim's kind says what our number is compared with, and the rule gives one of `STATUSES`.

Kinds (column `kind` of `paper_claims.csv`; column `compares` says in words what the row compares):

- **level**: our value against the paper's value (e.g. teacher accuracy ≈0.94).
- **effect**: a treated arm against our own control arm, paired over units (seeds, models, questions), in a
  stated direction; the paper's effect, when it gives one, is compared with ours only at the paper's scale.
- **null**: the claim expects no effect; a pre-stated margin says how small "none" is.
- **check**: a sanity check of a proof (Theorem 1), not an experimental result; counted apart.

Every interval is a 95% interval; the row says how it was made (Student t over units, or a bootstrap over seeds,
questions and sampled answers). An interval is usable when it rests on at least `MIN_UNITS` units and has a
width (low < high). The statuses:

- **not run**: the metrics file, or the JSON path in it, does not exist (the reason says which).
- **too few runs**: fewer than `MIN_UNITS` units, or a zero-width interval (every unit gave the same value):
  no status can be decided from it.
- level: **reproduced** when the paper's value lies inside our CI or within `tolerance` of our mean (a plain
  number without an interval: within `tolerance`); otherwise **not reproduced**.
- effect, with D = treated − control and its CI:
  - D's CI strictly on the claimed side of 0: **confounded** when the claim names its control arm's comparison
    (`confound`: treated − the arm that got the same treatment without the trait, e.g. the control student) and
    that comparison's CI is not strictly on the claimed side, i.e. the control arm moved as much as the treated
    arm within noise. Otherwise, at the paper's scale, **reproduced** when the paper's effect lies inside the CI
    or within `tolerance` of D (or the paper states only the sign), else **direction reproduced**; at a smaller
    scale (another model, fewer data) magnitudes are not comparable, so at most **direction reproduced**;
  - D's CI strictly on the other side: **not reproduced**;
  - D's CI contains 0: at the paper's scale **not reproduced** when the CI excludes the paper's effect (or the
    paper gives no number to be inside it) and **inconclusive** when it holds both 0 and the paper's effect; at a
    smaller scale **null at this scale** (not detected here; the paper's scale could change that).
- null, with margin M (an equivalence test: M is how large an effect may be and still count as none):
  **reproduced** when the CI lies inside ±M, even when it excludes 0 (an effect detected, but smaller than the
  margin: the detail says so); **not reproduced** when the CI lies strictly on one side of 0 and reaches beyond M;
  otherwise **inconclusive** (the CI holds 0 but also effects larger than M).
- check: **check passed** when the value equals the proof's statement (within `tolerance`; e.g. a fraction of
  trials of 1) or, for an estimate, its CI lies strictly on the stated side of 0; otherwise **check failed**.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sublim.core.stats import T_METHOD, compare, zero_width

STATUSES = (
    "reproduced",
    "direction reproduced",
    "not reproduced",
    "null at this scale",
    "confounded",
    "inconclusive",
    "too few runs",
    "check passed",
    "check failed",
    "not run",
)
KINDS = ("level", "effect", "null", "check")
EXPERIMENTAL_KINDS = ("level", "effect", "null")  # results of an experiment; `check` rows test a proof
MIN_UNITS = 3


class ReportError(ValueError):
    """A wiring file that cannot be read (bad kind, unknown paper value id, ...); the message names the row."""


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% interval (None when n < 2), the number of units and how the interval was made."""

    mean: float
    low: float | None
    high: float | None
    n: int | None
    method: str | None = None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def contains(self, value: float) -> bool:
        return self.has_interval and self.low <= value <= self.high  # type: ignore[operator]

    def minus(self, constant: float) -> Estimate:
        shift = lambda x: None if x is None else x - constant  # noqa: E731
        return Estimate(self.mean - constant, shift(self.low), shift(self.high), self.n, self.method)

    @property
    def interval(self) -> str:
        """How the interval was made, in words (the headline's `interval` column)."""
        if not self.has_interval:
            return "none (a plain number)" if self.n is None or self.n > 1 else "none (one unit)"
        return f"{self.method or T_METHOD}, n = {self.n}"


@dataclass(frozen=True)
class Rule:
    """What a claim's status is decided against (from its row of `paper_claims.csv`)."""

    kind: str
    paper: float | None = None  # level: the paper's value; effect: the paper's effect; check: the stated value
    direction: int = 1  # +1: treated above control (or the value above 0); -1: below
    at_paper_scale: bool = True
    tolerance: float = 0.05
    margin: float | None = None  # null: the largest effect that still counts as none
    confound: Estimate | None = None  # effect: treated − the arm that got the same treatment without the trait


def as_estimate(node: Any) -> Estimate:
    """Our number from a metrics node: an `estimate`, a `compare` (its difference), or a plain number."""
    method = None
    if isinstance(node, dict) and "difference" in node:
        method = node.get("test")
        node = node["difference"]
    if isinstance(node, bool):
        raise ReportError(f"expected a number or an estimate, got {node!r}")
    if isinstance(node, int | float):
        return Estimate(float(node), None, None, None)
    if isinstance(node, dict) and "mean" in node:
        low, high = (node.get("ci95") or [None, None])[:2]
        n = node.get("n")
        method = node.get("method") or method
        return Estimate(float(node["mean"]), _opt(low), _opt(high), None if n is None else int(n), method)
    raise ReportError(f"expected a number, an estimate {{mean, ci95, n}} or a comparison, got {str(node)[:80]}")


def _opt(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def difference(treated: Any, control: Any, paired: bool) -> Estimate:
    """treated − control: from the two estimates' per-unit values (sublim.core.stats.compare)."""
    values = [node.get("values") if isinstance(node, dict) else None for node in (treated, control)]
    if any(v is None for v in values):
        raise ReportError("a difference of two estimates needs their per-unit 'values'")
    if paired and len(values[0]) != len(values[1]):
        paired = False  # unequal units cannot be paired; fall back to Welch
    return as_estimate(compare(values[0], values[1], paired=paired))


def unusable(ours: Estimate) -> str | None:
    """Why an interval cannot carry a status (too few units, none, zero width); None when it can."""
    if ours.n is not None and ours.n < MIN_UNITS:
        return f"{ours.n} unit{'s' * (ours.n != 1)}: a status needs at least {MIN_UNITS}"
    if not ours.has_interval:
        return "no interval"
    if zero_width(ours.low, ours.high):  # type: ignore[arg-type]
        return "zero-width interval (every unit gave the same value): it cannot tell an effect from none"
    return None


def decide_status(ours: Estimate | None, rule: Rule) -> tuple[str, str]:
    """(status, reason) by the rule in the module docstring."""
    if rule.kind not in KINDS:
        raise ReportError(f"claim kind {rule.kind!r}: expected one of {KINDS}")
    if rule.direction not in (1, -1):
        raise ReportError(f"direction must be +1 or -1, got {rule.direction!r}")
    if ours is None:
        return "not run", "no metrics"
    decide = {"level": _level, "effect": _effect, "null": _null, "check": _check}[rule.kind]
    return decide(ours, rule)


def _level(ours: Estimate, rule: Rule) -> tuple[str, str]:
    if rule.paper is None:
        raise ReportError("a level claim needs the paper's number")
    gap = abs(ours.mean - rule.paper)
    if ours.has_interval or (ours.n is not None and ours.n < MIN_UNITS):
        if problem := unusable(ours):
            return "too few runs", problem
        if ours.contains(rule.paper):
            return "reproduced", "paper value inside our 95% CI"
    if gap <= rule.tolerance:
        return "reproduced", "equal to the paper's value" if gap == 0 else f"within ±{rule.tolerance:g} of the paper"
    return "not reproduced", f"paper value outside our CI and {gap:.3g} away"


def _side(ours: Estimate, direction: int) -> int:
    """+1: the CI lies strictly on the claimed side of 0; -1: strictly on the other; 0: it contains 0."""
    low, high = sorted((direction * ours.low, direction * ours.high))  # type: ignore[operator]
    return 1 if low > 0 else -1 if high < 0 else 0


def _moved(ours: Estimate, confound: Estimate) -> str:
    """How far the control arm moved, as a share of the treated arm's move (both means)."""
    share = (ours.mean - confound.mean) / ours.mean if ours.mean else math.nan
    return f"the control arm moved {share:.0%} as much as the treated arm" if math.isfinite(share) else ""


def _effect(ours: Estimate, rule: Rule) -> tuple[str, str]:
    if problem := unusable(ours):
        moved = f"; {_moved(ours, rule.confound)}" if rule.confound is not None else ""
        return "too few runs", problem + moved
    word = "above" if rule.direction > 0 else "below"
    side = _side(ours, rule.direction)
    if side > 0:
        if rule.confound is not None:
            if problem := unusable(rule.confound):
                return "too few runs", f"control-arm comparison: {problem}"
            if _side(rule.confound, rule.direction) <= 0:
                return "confounded", f"CI {word} 0, but {_moved(ours, rule.confound)}: treated − control arm CI " + (
                    f"[{rule.confound.low:.3g}, {rule.confound.high:.3g}] is not {word} 0"
                )
        if not rule.at_paper_scale:
            return "direction reproduced", f"CI {word} 0; magnitude not comparable at this scale"
        if rule.paper is None:
            return "reproduced", f"CI {word} 0, as the paper states"
        if ours.contains(rule.paper) or abs(ours.mean - rule.paper) <= rule.tolerance:
            return "reproduced", f"CI {word} 0 and the paper's effect inside it or within ±{rule.tolerance:g}"
        return "direction reproduced", f"CI {word} 0; size {ours.mean:+.3g} vs the paper's {rule.paper:+.3g}"
    if side < 0:
        return "not reproduced", "CI on the opposite side of 0"
    if not rule.at_paper_scale:
        return "null at this scale", "CI contains 0"
    if rule.paper is not None and ours.contains(rule.paper):
        return "inconclusive", "at the paper's scale the CI contains both 0 and the paper's effect"
    return "not reproduced", "at the paper's scale the CI contains 0" + (
        " and excludes the paper's effect" if rule.paper is not None else ""
    )


def _null(ours: Estimate, rule: Rule) -> tuple[str, str]:
    if rule.margin is None or not rule.margin > 0:
        raise ReportError("a null claim needs a positive margin (the largest effect that counts as none)")
    if problem := unusable(ours):
        return "too few runs", problem
    side = _side(ours, 1)
    word = "above" if side > 0 else "below"
    if -rule.margin <= ours.low and ours.high <= rule.margin:  # type: ignore[operator]
        detected = f", though {word} 0: an effect smaller than the margin" if side else ""
        return "reproduced", f"CI inside ±{rule.margin:.3g} (the margin){detected}"
    if side != 0:
        size = abs(ours.mean) / rule.margin
        return "not reproduced", f"CI {word} 0 and beyond the margin: an effect where none is expected ({size:.1f}× it)"
    return "inconclusive", f"CI contains 0 but reaches beyond ±{rule.margin:.3g} (the margin)"


def _check(ours: Estimate, rule: Rule) -> tuple[str, str]:
    if rule.paper is not None and not ours.has_interval:
        if ours.n is not None and ours.n < MIN_UNITS:
            return "too few runs", f"{ours.n} unit(s): a check needs at least {MIN_UNITS}"
        gap = abs(ours.mean - rule.paper)
        if gap <= rule.tolerance:
            return "check passed", "as the proof states" + (f" (within ±{rule.tolerance:g})" if gap else "")
        return "check failed", f"{ours.mean:.4g} where the proof states {rule.paper:g}"
    if problem := unusable(ours):
        return "too few runs", problem
    word = "above" if rule.direction > 0 else "below"
    if _side(ours, rule.direction) > 0:
        return "check passed", f"CI {word} 0, as the proof states"
    return "check failed", f"CI not {word} 0, against the proof's statement"


def status_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many rows have each status, every status listed (zero included), in the order of `STATUSES`."""
    return {status: sum(row["status"] == status for row in rows) for status in STATUSES}


def kind_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Status counts of the experimental claims (level, effect, null) and of the proof's checks, apart."""
    groups = {"experimental": [r for r in rows if r["kind"] in EXPERIMENTAL_KINDS]}
    groups["check"] = [r for r in rows if r["kind"] == "check"]
    return {group: {s: n for s, n in status_counts(members).items() if n} for group, members in groups.items()}
