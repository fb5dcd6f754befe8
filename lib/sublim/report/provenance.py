"""Provenance: one row per stage run, read from the `run_record.json` every stage writes beside its results."""

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


def provenance_rows(results_root: Path | str, exclude: tuple[str, ...] = ("report",)) -> list[dict[str, Any]]:
    """One row per `run_record.json` under results_root (the report's own folder excluded: it is being written)."""
    rows = []
    for path in sorted(Path(results_root).rglob("run_record.json")):
        if path.parent.relative_to(results_root).parts[:1] in [(name,) for name in exclude]:
            continue
        record = read_json(path)
        packages, git = record.get("packages") or {}, record.get("git") or {}
        rows.append(
            {
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
        )
    return rows


def write_provenance(rows: list[dict[str, Any]], results_dir: Path | str) -> pd.DataFrame:
    """provenance.csv in results_dir; returns the rows as a DataFrame for display."""
    write_text_atomic(Path(results_dir) / "provenance.csv", csv_text(rows, PROVENANCE_COLUMNS))
    return pd.DataFrame(rows, columns=PROVENANCE_COLUMNS)
