"""Provenance: one row per stage run, read from the run records the runner writes to results/records.

The report reads them without declaring them as DVC dependencies (a new record alone reruns nothing), so the table
holds the records on disk when the report last ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sublim.core.io import read_json, write_text_atomic
from sublim.report.claims import csv_text

PROVENANCE_COLUMNS = [
    "stage",
    "matrix",
    "commit",
    "dirty",
    "device",
    "threads",
    "wall_s",
    "python",
    "torch",
    "transformers",
    "peft",
    "numpy",
    "dvc",
    "record",
]


REPORT_STAGES = ("report", "report_html")  # their records are written after the report: left out


def provenance_rows(records_dir: Path | str, exclude: tuple[str, ...] = REPORT_STAGES) -> list[dict[str, Any]]:
    """One row per run record (`<stage>[-<matrix values>].json`) in records_dir, the stages in `exclude` left out."""
    rows = []
    for path in sorted(Path(records_dir).glob("*.json")):
        record = read_json(path)
        if record.get("stage") not in exclude:
            rows.append(provenance_row(record, path))
    return rows


def provenance_row(record: dict[str, Any], path: Path) -> dict[str, Any]:
    packages, git = record.get("packages") or {}, record.get("git") or {}
    return {
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
    }


def write_provenance(rows: list[dict[str, Any]], results_dir: Path | str) -> pd.DataFrame:
    """provenance.csv in results_dir; returns the rows as a DataFrame for display."""
    write_text_atomic(Path(results_dir) / "provenance.csv", csv_text(rows, PROVENANCE_COLUMNS))
    return pd.DataFrame(rows, columns=PROVENANCE_COLUMNS)
