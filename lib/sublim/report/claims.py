"""The headline table: every claim of the paper, the paper's number, ours with its interval, and a status.

Wiring is data, not code. Two CSV files (paths in params `report`) say what to read:

- `paper_values.csv`: the paper's headline numbers (protocol §11) with their figure and an `approx` flag for
  values read off a figure (shown with "≈");
- `paper_claims.csv`: one row per claim: the paper value (an id, `A - B` of two ids, or a number), the metrics
  file and the JSON path (`sublim.report.jsonpath`) of our estimate (`sublim.core.stats.estimate` / `compare`
  structure, or a plain number), an optional control to subtract (a number, a JSON path to a number, or to an
  estimate: then the difference of the two estimates' per-unit values, paired or Welch), the claim's kind and
  the setting, and optionally `units`: a JSON path to the unit count of a plain number (e.g. the trials behind a
  fraction), and `readme` (false: the row stays in the report but not in README.md's short table).

Each row's status comes from the rule in `sublim.report.status`.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sublim.core.io import read_json, write_json_atomic, write_text_atomic
from sublim.report.config import ReportParams
from sublim.report.jsonpath import expand, fill, instantiate, resolve
from sublim.report.status import KINDS, Estimate, ReportError, as_estimate, decide_status, difference, status_counts

HEADLINE_COLUMNS = [
    "claim_id",
    "experiment",
    "figure",
    "claim",
    "paper",
    "paper_value",
    "paper_approx",
    "ours",
    "ours_mean",
    "ours_low",
    "ours_high",
    "n",
    "setting",
    "paper_setting",
    "status",
    "reason",
    "source",
    "in_readme",
]


# ---------------------------------------------------------------- the paper's numbers


@dataclass(frozen=True)
class PaperNumber:
    value: float | None
    approx: bool
    text: str
    setting: str
    figure: str


def read_csv_rows(path: Path | str) -> list[dict[str, str]]:
    with Path(path).open(newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def load_paper_values(path: Path | str) -> dict[str, PaperNumber]:
    values = {}
    for row in read_csv_rows(path):
        value = float(row["value"]) if row["value"] else None
        values[row["value_id"]] = PaperNumber(
            value, row["approx"] == "true", row["paper_text"], row["setting"], row["figure"]
        )
    return values


def paper_number(spec: str, values: dict[str, PaperNumber]) -> PaperNumber | None:
    """The paper's number for a claim: a value id, `A - B` (an effect), a literal, or '' (none)."""
    spec = spec.strip()
    if not spec:
        return None
    if _is_number(spec):
        return PaperNumber(float(spec), False, spec, "", "")
    parts = [part.strip() for part in spec.split(" - ")]
    if any(part not in values for part in parts):
        return None  # e.g. a trait of ours that the paper did not run
    numbers = [values[part] for part in parts]
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) != 2 or any(n.value is None for n in numbers):
        raise ReportError(f"paper value {spec!r}: write one id or 'A - B' of two numeric ids")
    approx = any(n.approx for n in numbers)
    value = numbers[0].value - numbers[1].value  # type: ignore[operator]
    parts_text = " − ".join(f"{'≈' if n.approx else ''}{n.value:.2f}" for n in numbers)
    text = f"{'≈' if approx else ''}{value:+.2f} ({parts_text})"
    return PaperNumber(value, approx, text, numbers[0].setting, numbers[0].figure)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- claims into rows


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "yes", "1")


def load_metrics(path: Path, cache: dict[Path, Any]) -> Any:
    """A metrics file's JSON, read once per `cache`; None when the file does not exist (the stage has not run)."""
    if path not in cache:
        cache[path] = read_json(path) if path.exists() else None
    return cache[path]


def claim_rows(
    claims_file: Path | str, paper_values_file: Path | str, root: Path | str = ".", tolerance: float = 0.05
) -> list[dict[str, Any]]:
    """One headline row per claim (a `*` row gives one per matched key), in the claims file's order."""
    root, values, cache = Path(root), load_paper_values(paper_values_file), {}
    rows: list[dict[str, Any]] = []
    for number, claim in enumerate(read_csv_rows(claims_file), start=2):
        try:
            rows.extend(_rows_of_claim(claim, values, root, tolerance, cache))
        except (ReportError, KeyError, ValueError) as err:
            raise ReportError(f"{claims_file} line {number} ({claim.get('claim_id')}): {err}") from None
    return rows


def _rows_of_claim(claim: dict[str, str], values: dict, root: Path, tolerance: float, cache: dict) -> Iterator[dict]:
    if claim["kind"] not in KINDS:
        raise ReportError(f"kind {claim['kind']!r}: expected one of {KINDS}")
    tol = float(claim["tolerance"]) if claim.get("tolerance") else tolerance
    data = load_metrics(root / claim["metrics"], cache)
    matches = expand(data, claim["ours"]) if data is not None else []
    if not matches:
        why = f"{claim['metrics']} missing" if data is None else f"no {claim['ours']} in {claim['metrics']}"
        wildcards = ("*",) * claim["ours"].count("*")  # one row stands for the whole claim
        yield _headline_row(claim, wildcards, values, None, tol, ("not run", why))
        return
    for keys, node in matches:
        if claim["kind"] == "level" and paper_number(fill(claim["paper_value"], keys), values) is None:
            continue  # e.g. a trait the paper did not run: there is no number to compare with
        control = fill(claim.get("control", ""), keys)
        try:
            ours = _our_number(data, node, control, _truthy(claim.get("paired", "")))
        except KeyError as err:
            yield _headline_row(claim, keys, values, None, tol, ("not run", f"control missing: {err}"))
            continue
        if ours.n is None and claim.get("units"):  # a plain number (e.g. a fraction of trials): its count
            with contextlib.suppress(KeyError):
                ours = Estimate(ours.mean, ours.low, ours.high, int(resolve(data, fill(claim["units"], keys))))
        yield _headline_row(claim, keys, values, ours, tol, None)


def _our_number(data: Any, node: Any, control: str, paired: bool) -> Estimate:
    if not control:
        return as_estimate(node)
    if _is_number(control):
        return as_estimate(node).minus(float(control))
    control_node = resolve(data, control)
    if isinstance(control_node, int | float) and not isinstance(control_node, bool):
        return as_estimate(node).minus(float(control_node))  # e.g. the base model: one deterministic number
    return difference(node, control_node, paired)


def _headline_row(
    claim: dict,
    keys: tuple[str, ...],
    values: dict,
    ours: Estimate | None,
    tolerance: float,
    status: tuple[str, str] | None,
) -> dict[str, Any]:
    paper = paper_number(fill(claim["paper_value"], keys), values)
    shown = tuple("…" if key == "*" else key for key in keys)  # a not-run wildcard row stands for every key
    if status is None:
        direction = -1 if claim.get("direction", "").strip() in ("-", "-1", "less") else 1
        status = decide_status(
            claim["kind"],
            ours,
            paper.value if paper else None,
            direction=direction,
            at_paper_scale=_truthy(claim["at_paper_scale"]),
            tolerance=tolerance,
        )
    return {
        "claim_id": fill(claim["claim_id"], keys),
        "experiment": claim["experiment"],
        "figure": claim["figure"],
        "claim": fill(claim["claim"], shown),
        "paper": paper.text if paper else "—",
        "paper_value": paper.value if paper else None,
        "paper_approx": paper.approx if paper else None,
        "ours_mean": ours.mean if ours else None,
        "ours_low": ours.low if ours else None,
        "ours_high": ours.high if ours else None,
        "n": ours.n if ours else None,
        "setting": fill(claim["setting"], shown),
        "paper_setting": paper.setting if paper else "",
        "status": status[0],
        "reason": status[1],
        "in_readme": claim.get("readme", "").strip().lower() != "false",  # default: shown
        "source": f"{claim['metrics']}:{instantiate(claim['ours'], keys)}"
        + (f" − {fill(claim['control'], keys)}" if claim.get("control") else ""),
    }


# ---------------------------------------------------------------- the table and its files


def format_estimate(mean: float | None, low: float | None, high: float | None, decimals: int) -> str:
    if mean is None:
        return "—"
    small = 0 < abs(mean) < 10**-decimals  # e.g. a loss change of 1e-5: fixed decimals would show 0.000

    def number(x: float) -> str:
        return f"{x:.2e}" if small else f"{x:.{decimals}f}"

    text = number(mean)
    if low is not None and high is not None:
        text += f" [{number(low)}, {number(high)}]"
    return text


def headline_table(cfg: ReportParams, root: Path | str = ".") -> list[dict[str, Any]]:
    """The headline rows for a params section, reading metrics files under `root`."""
    rows = claim_rows(Path(root) / cfg.claims, Path(root) / cfg.paper_values, root, cfg.tolerance)
    for row in rows:
        row["ours"] = format_estimate(row["ours_mean"], row["ours_low"], row["ours_high"], cfg.decimals)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as CSV text with fixed number formatting (identical numbers give identical bytes)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(row.get(key)) for key in columns} for row in rows)
    return buffer.getvalue()


def headline_csv_text(rows: list[dict[str, Any]]) -> str:
    """The table as CSV text (`results/report/headline.csv`)."""
    return csv_text(rows, HEADLINE_COLUMNS)


def summary_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`results/report/metrics.json` for `dvc metrics show` / `dvc exp show`: status counts, each claim's mean,
    interval and status (the paper's values do not change between versions: they stay in headline.csv)."""
    keys = {"ours": "ours_mean", "low": "ours_low", "high": "ours_high", "status": "status"}  # paper values: CSV
    claims = {row["claim_id"]: {name: row[column] for name, column in keys.items()} for row in rows}
    return {"status_counts": status_counts(rows), "claims": claims}


def write_headline(rows: list[dict[str, Any]], results_dir: Path | str) -> Path:
    results_dir = Path(results_dir)
    write_json_atomic(results_dir / "metrics.json", summary_metrics(rows))
    return write_text_atomic(results_dir / "headline.csv", headline_csv_text(rows))


def display_table(rows: list[dict[str, Any]]):
    """The columns a reader wants, as a pandas DataFrame (for the notebook)."""
    import pandas as pd  # deferred: `python -m sublim.readme` builds the table without pandas

    columns = ["claim_id", "figure", "paper", "ours", "n", "setting", "status", "reason"]
    return pd.DataFrame([{key: row[key] for key in columns} for row in rows])
