"""The headline table: every claim of the paper, the paper's number, ours with its interval, and a status.

Wiring is data, not code. Two CSV files (paths in params `report`) say what to read: `paper_values.csv` (the
paper's numbers, `sublim.report.paper`) and `paper_claims.csv`, one row per claim (a `*` in `ours` gives one row
per matched key, and the matched keys fill `{0}`, `{1}`, ... in the row's other fields):

- `kind` (level, effect, null, check: `sublim.report.status`) and `compares`: what the row compares, in words;
- `paper_value`: an id, `A - B` of two ids, or a literal; a level row is left out for a key (a trait) the paper
  gives no number for;
- `metrics` and `ours`: the metrics file and the JSON path (`sublim.report.jsonpath`) of our estimate
  (`sublim.core.stats` structure, or a plain number);
- `control`: optional, subtracted from ours: a number, a JSON path to a number, or to an estimate (then the
  difference of the two estimates' per-unit values, paired when `paired`, else Welch);
- `confound`: an effect's JSON path to the treated arm against the arm that got the same treatment without the
  trait (the control student when the claim compares with the base model);
- `margin`: a null's largest effect that still counts as none: a number, or `F*path` (F times the absolute mean
  at a JSON path, e.g. a tenth of the same quantity at a shared init);
- `at_paper_scale`: true, false, or a JSON path to a boolean the experiment wrote (is this run the paper's
  setting?); `when`: optional JSON path to a boolean, or `path == text`: the row applies only when it holds;
- `model`: optional JSON path to the run's model name, put into `{model}` in the claim and the setting;
- `direction` (+ or -), `tolerance` (else params `report.tolerance`), `setting`, `units` (a JSON path to the
  unit count of a plain number, e.g. the trials behind a fraction) and `readme` (false: the row stays in the
  report but not in README.md's short table).

A path that the metrics do not hold gives a **not run** row saying which; each other row's status comes from
`sublim.report.status.decide_status`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sublim.core.io import atomic_dir, read_json, write_json_atomic, write_text_atomic
from sublim.report.config import ReportParams
from sublim.report.jsonpath import expand, fill, instantiate, resolve
from sublim.report.paper import PaperNumber, is_number, load_paper_values, paper_number, read_csv_rows
from sublim.report.status import (
    KINDS,
    Estimate,
    ReportError,
    Rule,
    as_estimate,
    decide_status,
    difference,
    kind_counts,
    status_counts,
)

HEADLINE_COLUMNS = [
    "claim_id",
    "experiment",
    "figure",
    "kind",
    "claim",
    "compares",
    "paper",
    "paper_value",
    "paper_approx",
    "ours",
    "ours_mean",
    "ours_low",
    "ours_high",
    "n",
    "interval",
    "at_paper_scale",
    "setting",
    "paper_setting",
    "status",
    "reason",
    "source",
    "in_readme",
]
UNKNOWN_MODEL = "the run's model"
HEADLINE_METRICS_DIR = "headline"  # in the report's folder: one small JSON per experiment, the DVC metrics


class Missing(LookupError):
    """A JSON path the metrics file does not hold: the row is 'not run' and says which path."""


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
    if not claim.get("compares"):
        raise ReportError("say in `compares` what the row compares (paper value, own control or expectation)")
    tol = float(claim["tolerance"]) if claim.get("tolerance") else tolerance
    data = load_metrics(root / claim["metrics"], cache)
    matches = expand(data, claim["ours"]) if data is not None else []
    if not matches:
        why = f"{claim['metrics']} missing" if data is None else f"no {claim['ours']} in {claim['metrics']}"
        wildcards = ("*",) * claim["ours"].count("*")  # one row stands for the whole claim
        yield _headline_row(claim, wildcards, values, None, None, ("not run", why))
        return
    for keys, node in matches:
        paper = paper_number(fill(claim["paper_value"], keys), values)
        if claim["kind"] == "level" and paper is None:
            continue  # e.g. a trait the paper did not run: there is no number to compare with
        try:
            if claim.get("when") and not _flag(data, fill(claim["when"], keys)):
                continue  # the claim does not apply to this run (e.g. a figure of another model)
            rule = _rule(claim, data, keys, paper, tol)
            if claim["paper_value"] and paper is None and rule.at_paper_scale:
                continue  # at the paper's scale, a trait the paper gives no number for has no claim to test
            ours = _our_number(claim, data, node, keys)
        except Missing as err:
            yield _headline_row(claim, keys, values, None, data, ("not run", str(err)))
            continue
        yield _headline_row(claim, keys, values, ours, data, decide_status(ours, rule))


def _lookup(data: Any, path: str) -> Any:
    try:
        return resolve(data, path)
    except KeyError:
        raise Missing(f"no {path} in the metrics (rerun the stage that writes it)") from None


def _flag(data: Any, spec: str) -> bool:
    """`true`/`false`, a JSON path to a boolean in the metrics, or `path == text` (a setting the metrics record)."""
    if spec.strip().lower() in ("true", "false", "yes", "no", "1", "0", ""):
        return _truthy(spec)
    path, equals, expected = spec.partition("==")
    if equals:
        return str(_lookup(data, path.strip())) == expected.strip()
    value = _lookup(data, spec)
    if not isinstance(value, bool):
        raise ReportError(f"{spec}: expected a boolean in the metrics, got {value!r}")
    return value


def _our_number(claim: dict[str, str], data: Any, node: Any, keys: tuple[str, ...]) -> Estimate:
    control = fill(claim.get("control", ""), keys)
    if not control:
        ours = as_estimate(node)
    elif is_number(control):
        ours = as_estimate(node).minus(float(control))
    else:
        control_node = _lookup(data, control)
        if isinstance(control_node, int | float) and not isinstance(control_node, bool):
            ours = as_estimate(node).minus(float(control_node))  # e.g. the base model: one deterministic number
        else:
            ours = difference(node, control_node, _truthy(claim.get("paired", "")))
    if ours.n is None and claim.get("units"):  # a plain number (e.g. a fraction of trials): its count
        n = int(_lookup(data, fill(claim["units"], keys)))
        ours = Estimate(ours.mean, ours.low, ours.high, n, ours.method)
    return ours


def _rule(claim: dict[str, str], data: Any, keys: tuple[str, ...], paper: PaperNumber | None, tol: float) -> Rule:
    confound = fill(claim.get("confound", ""), keys)
    return Rule(
        kind=claim["kind"],
        paper=paper.value if paper else None,
        direction=-1 if claim.get("direction", "").strip() in ("-", "-1", "less") else 1,
        at_paper_scale=_flag(data, fill(claim.get("at_paper_scale", ""), keys)),
        tolerance=tol,
        margin=_margin(data, fill(claim.get("margin", ""), keys)),
        confound=as_estimate(_lookup(data, confound)) if confound else None,
    )


def _margin(data: Any, spec: str) -> float | None:
    """A number, or `F*path`: F times the absolute mean of the estimate (or number) at the JSON path."""
    if not spec:
        return None
    if is_number(spec):
        return float(spec)
    factor, _, path = spec.partition("*")
    if not (is_number(factor) and path):
        raise ReportError(f"margin {spec!r}: write a number or F*path")
    return float(factor) * abs(as_estimate(_lookup(data, path.strip())).mean)


def _model(claim: dict[str, str], data: Any) -> str:
    if not claim.get("model") or data is None:
        return UNKNOWN_MODEL
    try:
        return str(resolve(data, claim["model"]))
    except KeyError:
        return UNKNOWN_MODEL


def _text(template: str, keys: tuple[str, ...], model: str) -> str:
    return fill(template, keys).replace("{model}", model)


def _headline_row(
    claim: dict,
    keys: tuple[str, ...],
    values: dict,
    ours: Estimate | None,
    data: Any,
    status: tuple[str, str],
) -> dict[str, Any]:
    paper = paper_number(fill(claim["paper_value"], keys), values)
    shown = tuple("…" if key == "*" else key for key in keys)  # a not-run wildcard row stands for every key
    model = _model(claim, data)
    scale = claim.get("at_paper_scale", "")
    return {
        "claim_id": fill(claim["claim_id"], keys),
        "experiment": claim["experiment"],
        "figure": claim["figure"],
        "kind": claim["kind"],
        "claim": _text(claim["claim"], shown, model),
        "compares": _text(claim["compares"], shown, model),
        "paper": paper.text if paper else "—",
        "paper_value": paper.value if paper else None,
        "paper_approx": paper.approx if paper else None,
        "ours_mean": ours.mean if ours else None,
        "ours_low": ours.low if ours else None,
        "ours_high": ours.high if ours else None,
        "n": ours.n if ours else None,
        "interval": ours.interval if ours else "",
        "at_paper_scale": _scale_text(data, fill(scale, keys)) if ours else "",
        "setting": _text(claim["setting"], shown, model),
        "paper_setting": paper.setting if paper else "",
        "status": status[0],
        "reason": status[1],
        "in_readme": claim.get("readme", "").strip().lower() != "false",  # default: shown
        "source": f"{claim['metrics']}:{instantiate(claim['ours'], keys)}"
        + (f" − {fill(claim['control'], keys)}" if claim.get("control") else ""),
    }


def _scale_text(data: Any, spec: str) -> bool | None:
    try:
        return _flag(data, spec)
    except (Missing, ReportError):
        return None


# ---------------------------------------------------------------- the table and its files


def format_estimate(mean: float | None, low: float | None, high: float | None, decimals: int) -> str:
    if mean is None:
        return "—"
    small = 0 < abs(mean) < 10 ** (1 - decimals)  # e.g. 1e-3 with 3 decimals: one digit left; 1e-5: none

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
    """`results/report/metrics.json`, every claim's number (`dvc metrics show results/report/metrics.json` reads
    it; it is not declared as DVC metrics): status counts (all rows, and the experimental claims apart from the
    proof's checks), each claim's kind, mean, interval and status (the paper's values do not change between
    versions: they stay in headline.csv)."""
    keys = {"kind": "kind", "ours": "ours_mean", "low": "ours_low", "high": "ours_high", "status": "status"}
    claims = {row["claim_id"]: {name: row[column] for name, column in keys.items()} for row in rows}
    return {"status_counts": status_counts(rows), "kind_counts": kind_counts(rows), "claims": claims}


def headline_metrics(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per experiment, what `dvc metrics show` and `dvc exp show` print (the declared DVC metrics): how many claims
    it has and how many have each status that occurs (DVC shows `-` for none). A handful of columns shared by every
    experiment, about 170 characters wide (a column per claim's mean and status would be 3,700)."""
    experiments = dict.fromkeys(row["experiment"] for row in rows)
    grouped = {experiment: [row for row in rows if row["experiment"] == experiment] for experiment in experiments}
    return {
        name: {"claims": len(members)} | {status: n for status, n in status_counts(members).items() if n}
        for name, members in grouped.items()
    }


def write_headline(rows: list[dict[str, Any]], results_dir: Path | str) -> Path:
    """metrics.json, headline/<experiment>.json (the DVC metrics) and headline.csv (returned) in `results_dir`."""
    results_dir = Path(results_dir)
    write_json_atomic(results_dir / "metrics.json", summary_metrics(rows))
    with atomic_dir(results_dir / HEADLINE_METRICS_DIR) as folder:
        for experiment, counts in headline_metrics(rows).items():
            write_json_atomic(folder / f"{experiment}.json", counts)
    return write_text_atomic(results_dir / "headline.csv", headline_csv_text(rows))


def display_table(rows: list[dict[str, Any]]):
    """The columns a reader wants, as a pandas DataFrame (for the notebook)."""
    import pandas as pd  # deferred: `python -m sublim.readme` builds the table without pandas

    columns = ["claim_id", "figure", "kind", "compares", "paper", "ours", "n", "interval", "status", "reason"]
    return pd.DataFrame([{key: row[key] for key in columns} for row in rows])
