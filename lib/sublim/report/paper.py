"""The paper's numbers (`paper_values.csv`): one per id, with its figure, setting and an `approx` flag for values
read off a figure (shown with "≈"); a claim names one id, `A - B` of two ids (an effect), or a literal."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sublim.report.status import ReportError


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
    if is_number(spec):
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
    parts_text = " − ".join(_part(n) for n in numbers)
    text = f"{'≈' if approx else ''}{value:+.2f} ({parts_text})"
    return PaperNumber(value, approx, text, numbers[0].setting, numbers[0].figure)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _part(number: PaperNumber) -> str:
    """One side of `A − B`: ≈ when read off a figure, a negative value in parentheses with a minus sign."""
    text = f"{'≈' if number.approx else ''}{abs(number.value):.2f}"  # type: ignore[arg-type]
    return f"(−{text})" if number.value < 0 else text  # type: ignore[operator]
