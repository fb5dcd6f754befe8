"""The status rule: our estimate against the paper's number gives each claim one of `STATUSES`.

Decided from the numbers only; 95% intervals are Student-t over seeds or models:

- **not run**: the metrics file, or the JSON path in it, does not exist (the reason says which).
- A **level** claim (the paper reports a value, e.g. teacher accuracy ≈0.94):
  **reproduced** when the paper's value lies inside our 95% CI or within `tolerance` of our mean;
  otherwise **not reproduced**.
- An **effect** claim (the paper reports a difference with a direction, e.g. trait student > control):
  let D be our difference (treated − control) with its 95% CI.
  - the CI lies strictly on the paper's side of 0 (significant in the paper's direction):
    at the paper's scale **reproduced** when the paper's effect lies inside the CI or within `tolerance` of D
    (or the paper claims only the sign), else **direction reproduced**; at a smaller scale (another model)
    magnitudes are not comparable, so at most **direction reproduced**;
  - the CI lies strictly on the other side of 0: **not reproduced**;
  - the CI contains 0: **not reproduced** when the run is at the paper's scale and the CI excludes the paper's
    effect (the effect is ruled out); otherwise **null at this scale** (not detected here; more units or the
    paper's scale could change that). With a single unit (no interval) an effect is **null at this scale**.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sublim.core.stats import compare

STATUSES = ("reproduced", "direction reproduced", "not reproduced", "null at this scale", "not run")
KINDS = ("level", "effect")


class ReportError(ValueError):
    """A wiring file that cannot be read (bad kind, unknown paper value id, ...); the message names the row."""


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% interval (None when n < 2) and the number of units."""

    mean: float
    low: float | None
    high: float | None
    n: int | None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def contains(self, value: float) -> bool:
        return self.has_interval and self.low <= value <= self.high  # type: ignore[operator]

    def minus(self, constant: float) -> Estimate:
        shift = lambda x: None if x is None else x - constant  # noqa: E731
        return Estimate(self.mean - constant, shift(self.low), shift(self.high), self.n)


def as_estimate(node: Any) -> Estimate:
    """Our number from a metrics node: an `estimate`, a `compare` (its difference), or a plain number."""
    if isinstance(node, dict) and "difference" in node:
        node = node["difference"]
    if isinstance(node, bool):
        raise ReportError(f"expected a number or an estimate, got {node!r}")
    if isinstance(node, int | float):
        return Estimate(float(node), None, None, None)
    if isinstance(node, dict) and "mean" in node:
        low, high = (node.get("ci95") or [None, None])[:2]
        n = node.get("n")
        return Estimate(float(node["mean"]), _opt_float(low), _opt_float(high), None if n is None else int(n))
    raise ReportError(f"expected a number, an estimate {{mean, ci95, n}} or a comparison, got {str(node)[:80]}")


def _opt_float(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def difference(treated: Any, control: Any, paired: bool) -> Estimate:
    """treated − control: from the two estimates' per-unit values (sublim.core.stats.compare)."""
    values = [node.get("values") if isinstance(node, dict) else None for node in (treated, control)]
    if any(v is None for v in values):
        raise ReportError("a difference of two estimates needs their per-unit 'values'")
    if paired and len(values[0]) != len(values[1]):
        paired = False  # unequal units cannot be paired; fall back to Welch
    return as_estimate(compare(values[0], values[1], paired=paired))


def decide_status(
    kind: str,
    ours: Estimate | None,
    paper: float | None,
    *,
    direction: int = 1,
    at_paper_scale: bool = True,
    tolerance: float = 0.05,
) -> tuple[str, str]:
    """(status, reason) by the rule in the module docstring. `direction` is +1 (ours should exceed the control)
    or -1; `paper` is the paper's value (level) or effect (effect), None when it only states a sign."""
    if kind not in KINDS:
        raise ReportError(f"claim kind {kind!r}: expected one of {KINDS}")
    if ours is None:
        return "not run", "no metrics"
    if kind == "level":
        if paper is None:
            raise ReportError("a level claim needs the paper's number")
        if ours.contains(paper):
            return "reproduced", "paper value inside our 95% CI"
        if ours.mean == paper:
            return "reproduced", "equal to the paper's value"
        if abs(ours.mean - paper) <= tolerance:
            return "reproduced", f"within ±{tolerance:g} of the paper"
        return "not reproduced", f"paper value outside our CI and {abs(ours.mean - paper):.3f} away"
    if direction not in (1, -1):
        raise ReportError(f"effect direction must be +1 or -1, got {direction!r}")
    if not ours.has_interval:
        return "null at this scale", "a single unit: no interval, the effect cannot be told from noise"
    signed = sorted((direction * ours.low, direction * ours.high))  # type: ignore[operator]
    side = "above" if direction > 0 else "below"
    if signed[0] > 0:
        if not at_paper_scale:
            return "direction reproduced", f"CI {side} 0; magnitude not comparable at this scale"
        if paper is None:
            return "reproduced", f"CI {side} 0, as the paper states"
        if ours.contains(paper) or abs(ours.mean - paper) <= tolerance:
            return "reproduced", f"CI {side} 0 and the paper's effect inside it or within ±{tolerance:g}"
        return "direction reproduced", f"CI {side} 0; size {ours.mean:+.3f} vs the paper's {paper:+.3f}"
    if signed[1] < 0:
        return "not reproduced", "CI on the opposite side of 0"
    if at_paper_scale and paper is not None and not ours.contains(paper):
        return "not reproduced", "CI contains 0 and excludes the paper's effect"
    return "null at this scale", "CI contains 0"


def status_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many rows have each status, every status listed (zero included), in the order of `STATUSES`."""
    return {status: sum(row["status"] == status for row in rows) for status in STATUSES}
