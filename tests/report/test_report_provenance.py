"""Provenance: one row per run record, the report's own excluded."""

from __future__ import annotations

import json

from sublim.report import provenance


def test_provenance_lists_every_run_record_but_the_reports_own(tmp_path):
    record = {
        "stage": "toy",
        "matrix": {"seed": 1, "trait": "owl"},
        "git": {"commit": "a" * 40, "dirty": True},
        "packages": {"torch": "2.13.0"},
        "device": "cpu",
        "threads": 1,
        "wall_s": 3.5,
        "python": "3.11.7",
    }
    for folder in ("toy/owl/1", "report"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "run_record.json").write_text(json.dumps(record))
    rows = provenance.provenance_rows(tmp_path)
    assert len(rows) == 1
    assert rows[0]["matrix"] == "seed=1 trait=owl" and rows[0]["commit"] == "a" * 12 and rows[0]["dirty"] is True
    table = provenance.write_provenance(rows, tmp_path / "out")
    assert list(table.columns) == provenance.PROVENANCE_COLUMNS
    lines = (tmp_path / "out" / "provenance.csv").read_text().splitlines()
    assert lines[0] == ",".join(provenance.PROVENANCE_COLUMNS)
    assert lines[1] == f"toy,seed=1 trait=owl,{'a' * 12},true,cpu,1,3.5,3.11.7,2.13.0,,,,,{rows[0]['record']}"
