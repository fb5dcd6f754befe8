"""The report beside the paper: every headline claim, the paper's number, ours with its interval, and a status.

Wiring is data, not code. Three CSV files (paths in params `report`) say what to read:

- `paper_values.csv`: the paper's headline numbers (protocol §11) with their figure and an `approx` flag for
  values read off a figure (shown with "≈");
- `paper_claims.csv`: one row per claim: the paper value (an id, `A - B` of two ids, or a number), the metrics
  file and the JSON path of our estimate (`sublim.stats.estimate` / `compare` structure, or a plain number),
  an optional control to subtract (a number, a JSON path to a number, or to an estimate: then the difference
  of the two estimates' per-unit values, paired or Welch), the claim's kind and the setting, and optionally
  `units`: a JSON path to the unit count of a plain number (e.g. the trials behind a fraction), and `readme`
  (false: the row stays in the report but not in README.md's short table);
- `report_figures.csv`: one row per bar of a figure in the paper's layout (ours with CI, the paper's beside).

A JSON path is dotted keys (`arms.student_aux`); a `*` matches any key at its level, alone or inside a key
(`conditions.shared/*/*`), and the matched parts fill `{0}`, `{1}`, ... in the row's other fields, so one row
can serve every trait.

Status rule (decided from the numbers only; 95% intervals are Student-t over seeds or models):

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

import contextlib
import csv
import io
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sublim.report.config import ReportParams
from sublim.core.io import read_json, write_json_atomic, write_text_atomic

STATUSES = ("reproduced", "direction reproduced", "not reproduced", "null at this scale", "not run")
KINDS = ("level", "effect")
HTML_TITLE = "Subliminal learning: the report beside the paper"
HEADLINE_COLUMNS = [
    "claim_id", "experiment", "figure", "claim", "paper", "paper_value", "paper_approx", "ours", "ours_mean",
    "ours_low", "ours_high", "n", "setting", "paper_setting", "status", "reason", "source", "in_readme",
]  # fmt: skip
PROVENANCE_COLUMNS = [
    "stage", "matrix", "commit", "dirty", "device", "threads", "wall_s", "python", "torch", "transformers",
    "peft", "numpy", "dvc", "record",
]  # fmt: skip


class ReportError(ValueError):
    """A wiring file that cannot be read (bad kind, unknown paper value id, ...); the message names the row."""


# ---------------------------------------------------------------- numbers


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
    """treated − control: from the two estimates' per-unit values (sublim.stats.compare)."""
    from sublim.core.stats import compare

    values = [node.get("values") if isinstance(node, dict) else None for node in (treated, control)]
    if any(v is None for v in values):
        raise ReportError("a difference of two estimates needs their per-unit 'values'")
    if paired and len(values[0]) != len(values[1]):
        paired = False  # unequal units cannot be paired; fall back to Welch
    return as_estimate(compare(values[0], values[1], paired=paired))


# ---------------------------------------------------------------- JSON paths


def resolve(data: Any, path: str) -> Any:
    """The node at a dotted path (`arms.student_aux`, list items by index); KeyError names the missing part."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(f"no {part!r} at {path!r}")
    return node


def expand(data: Any, pattern: str) -> list[tuple[tuple[str, ...], Any]]:
    """Every (matched keys, node) for a dotted path whose `*` segments match every key of a mapping."""
    matches: list[tuple[tuple[str, ...], Any]] = [((), data)]
    for part in pattern.split("."):
        found = []
        for keys, node in matches:
            if "*" in part:  # `*` alone, or inside a key such as `shared/*/*`: each `*` is one captured key part
                regex = re.compile("^" + "(.*)".join(map(re.escape, part.split("*"))) + "$")
                for key, child in node.items() if isinstance(node, dict) else []:
                    if match := regex.match(str(key)):
                        found.append(((*keys, *match.groups()), child))
            else:
                with contextlib.suppress(KeyError):
                    found.append((keys, resolve(node, part)))
        matches = found
    return matches


def fill(template: str, keys: tuple[str, ...]) -> str:
    """Put matched keys into `{0}`, `{1}`, ... (other braces are left alone)."""
    return re.sub(r"\{(\d+)\}", lambda m: keys[int(m.group(1))] if int(m.group(1)) < len(keys) else m.group(0),
                  template)  # fmt: skip


def instantiate(pattern: str, keys: tuple[str, ...]) -> str:
    """The concrete path a match came from: each `*` replaced, in order, by its matched key."""
    pieces = pattern.split("*")
    if len(keys) < len(pieces) - 1:
        return pattern
    return "".join(piece + (keys[i] if i < len(pieces) - 1 else "") for i, piece in enumerate(pieces))


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
        values[row["value_id"]] = PaperNumber(value, row["approx"] == "true", row["paper_text"], row["setting"],
                                              row["figure"])  # fmt: skip
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


# ---------------------------------------------------------------- the status rule


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


# ---------------------------------------------------------------- the headline table


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "yes", "1")


def _load_metrics(path: Path, cache: dict[Path, Any]) -> Any:
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
    data = _load_metrics(root / claim["metrics"], cache)
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


def _headline_row(claim: dict, keys: tuple[str, ...], values: dict, ours: Estimate | None, tolerance: float,
                  status: tuple[str, str] | None) -> dict[str, Any]:  # fmt: skip
    paper = paper_number(fill(claim["paper_value"], keys), values)
    shown = tuple("…" if key == "*" else key for key in keys)  # a not-run wildcard row stands for every key
    if status is None:
        direction = -1 if claim.get("direction", "").strip() in ("-", "-1", "less") else 1
        status = decide_status(claim["kind"], ours, paper.value if paper else None, direction=direction,
                                   at_paper_scale=_truthy(claim["at_paper_scale"]), tolerance=tolerance)  # fmt: skip
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


def headline_csv_text(rows: list[dict[str, Any]]) -> str:
    """The table as CSV text with fixed number formatting (identical numbers give identical bytes)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADLINE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(row.get(key)) for key in HEADLINE_COLUMNS} for row in rows)
    return buffer.getvalue()


def status_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {status: sum(row["status"] == status for row in rows) for status in STATUSES}


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
    import pandas as pd

    columns = ["claim_id", "figure", "paper", "ours", "n", "setting", "status", "reason"]
    return pd.DataFrame([{key: row[key] for key in columns} for row in rows])


# ---------------------------------------------------------------- figures in the paper's layout


@dataclass(frozen=True)
class Bar:
    figure_id: str
    title: str
    panel: str
    label: str
    color_key: str
    ours: Estimate | None
    paper: PaperNumber | None
    ylabel: str


def figure_bars(figures_file: Path | str, paper_values_file: Path | str, root: Path | str = ".") -> list[Bar]:
    """Every bar of every figure whose metrics exist (missing metrics give no bar)."""
    root, values, cache, bars = Path(root), load_paper_values(paper_values_file), {}, []
    for spec in read_csv_rows(figures_file):
        data = _load_metrics(root / spec["metrics"], cache)
        if data is None:
            continue
        for keys, node in expand(data, spec["ours"]):
            bars.append(Bar(spec["figure_id"], spec["title"], fill(spec["panel"], keys), fill(spec["label"], keys),
                            fill(spec["color_key"], keys), as_estimate(node),
                            paper_number(fill(spec["paper_value"], keys), values), spec["ylabel"]))  # fmt: skip
    return bars


def plot_figures(cfg: ReportParams, results_dir: Path | str, root: Path | str = ".") -> list[Path]:
    """One PNG per figure id under results_dir/figures: ours with 95% CI, the paper's value beside each bar."""
    bars = figure_bars(Path(root) / cfg.figures, Path(root) / cfg.paper_values, root)
    paths, folder = [], Path(results_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)  # a DVC output even before any experiment has metrics
    for stale in folder.glob("*.png"):  # a figure whose metrics went away must not linger
        stale.unlink()
    for figure_id in dict.fromkeys(bar.figure_id for bar in bars):
        paths.append(plot_figure([b for b in bars if b.figure_id == figure_id], folder))
    return paths


def plot_figure(bars: list[Bar], folder: Path) -> Path:
    """Bars of one figure: per panel (e.g. a trait) one bar per arm, ours with its 95% CI, the paper's hatched
    beside it (≈ marks a value read off the paper's figure)."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Patch

    from sublim.core.plots import ARM_COLORS, PAPER_COLOR, TRAIT_COLORS, save_figure, use_style

    use_style()
    panels = list(dict.fromkeys(bar.panel for bar in bars))
    width = max(len([b for b in bars if b.panel == p]) for p in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(3.2, 0.9 * width + 1) * len(panels), 3.6), squeeze=False,
                             sharey=True)  # fmt: skip
    palette = {**TRAIT_COLORS, **ARM_COLORS}
    for ax, panel in zip(axes[0], panels, strict=True):
        group = [b for b in bars if b.panel == panel]
        x = np.arange(len(group))
        for i, bar in enumerate(group):
            if bar.ours is not None:
                err = None
                if bar.ours.has_interval:
                    err = [[bar.ours.mean - bar.ours.low], [bar.ours.high - bar.ours.mean]]  # type: ignore[operator]
                ax.bar(x[i] - 0.2, bar.ours.mean, 0.4, color=palette.get(bar.color_key, "#4c72b0"), yerr=err,
                       capsize=3)  # fmt: skip
                _label_bar(ax, x[i] - 0.2, bar.ours.mean, f"{bar.ours.mean:.2f}", "black")
            if bar.paper is not None and bar.paper.value is not None:
                ax.bar(x[i] + 0.2, bar.paper.value, 0.4, color="white", edgecolor=PAPER_COLOR, hatch="///")
                text = ("≈" if bar.paper.approx else "") + f"{bar.paper.value:.2f}"
                _label_bar(ax, x[i] + 0.2, bar.paper.value, text, "#555555")
        ax.set_xticks(x, [b.label for b in group], rotation=30, ha="right")
        if panel:
            ax.set_title(panel)
        ax.set_ylabel(group[0].ylabel)
        ax.axhline(0, color="black", linewidth=0.6)
    settings = sorted({f"{b.paper.figure}: {b.paper.setting}" for b in bars if b.paper and b.paper.setting})
    approx = " (≈: read off its figure)" if any(b.paper and b.paper.approx for b in bars) else ""
    handles = [
        Patch(facecolor="#8c8c8c", label="ours, mean and 95% CI"),
        Patch(
            facecolor="white",
            edgecolor=PAPER_COLOR,
            hatch="///",
            label="paper" + approx + (f" — {'; '.join(settings)}" if settings else ""),
        ),
    ]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=1, fontsize=8, frameon=False)
    fig.suptitle(bars[0].title, fontsize=10)
    fig.tight_layout()
    path = save_figure(fig, folder / f"{bars[0].figure_id}.png")
    plt.close(fig)
    return path


def _label_bar(ax, x: float, height: float, text: str, color: str) -> None:
    ax.annotate(text, (x, height), ha="center", va="bottom", fontsize=7, color=color, xytext=(0, 2),
                textcoords="offset points")  # fmt: skip


# ---------------------------------------------------------------- provenance


def provenance_rows(results_root: Path | str, exclude: tuple[str, ...] = ("report",)) -> list[dict[str, Any]]:
    """One row per `run_record.json` under results_root (the report's own folder excluded: it is being written)."""
    rows = []
    for path in sorted(Path(results_root).rglob("run_record.json")):
        if path.parent.relative_to(results_root).parts[:1] in [(name,) for name in exclude]:
            continue
        record = read_json(path)
        packages, git = record.get("packages") or {}, record.get("git") or {}
        rows.append({
            "stage": record.get("stage"),
            "matrix": " ".join(f"{k}={v}" for k, v in sorted((record.get("matrix") or {}).items())),
            "commit": (git.get("commit") or "")[:12],
            "dirty": git.get("dirty"),
            "device": record.get("device"),
            "threads": record.get("threads"),
            "wall_s": record.get("wall_s"),
            "python": record.get("python"),
            **{name: packages.get(name) for name in ("torch", "transformers", "peft", "numpy", "dvc")},
            "record": str(path),
        })  # fmt: skip
    return rows


def write_provenance(rows: list[dict[str, Any]], results_dir: Path | str):
    """provenance.csv in results_dir; returns the rows as a DataFrame for display."""
    import pandas as pd

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PROVENANCE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(row.get(key)) for key in PROVENANCE_COLUMNS} for row in rows)
    write_text_atomic(Path(results_dir) / "provenance.csv", buffer.getvalue())
    return pd.DataFrame(rows, columns=PROVENANCE_COLUMNS)


# ---------------------------------------------------------------- HTML export


def export_html(section: ReportParams, results_dir: Path) -> Path:
    """Stage `report_html`: the executed report notebook as one self-contained HTML page.

    A separate stage because a notebook cannot export itself while papermill runs it; it depends on
    the executed notebook that stage `report` writes.
    """
    import nbformat
    from nbconvert import HTMLExporter

    from sublim.stages import STAGES

    report = STAGES["report"]
    executed = Path(report.results_dir) / Path(report.notebook or "report.ipynb").name
    if not executed.exists():
        raise FileNotFoundError(f"{executed}: run `dvc repro report` first")
    notebook = nbformat.read(str(executed), as_version=4)
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": HTML_TITLE}})
    return write_text_atomic(Path(results_dir) / "report.html", html)


def main(argv: list[str] | None = None) -> int:
    """`python -m sublim.report.report`: print the headline table (what `report` would write) without writing it."""
    from sublim.sections import load_section

    del argv
    rows = headline_table(load_section("report"))  # type: ignore[arg-type]
    sys.stdout.write(headline_csv_text(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
