"""Provenance: one row per run record in results/records, the report's own stages excluded."""

from __future__ import annotations

import json

import yaml

from sublim.report import provenance
from sublim.stages import RECORDS, STAGES


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
    records = tmp_path / "records"
    records.mkdir()
    (records / "toy-owl-1.json").write_text(json.dumps(record))
    for stage in provenance.REPORT_STAGES:
        (records / f"{stage}.json").write_text(json.dumps({**record, "stage": stage, "matrix": {}}))
    rows = provenance.provenance_rows(records)
    assert len(rows) == 1
    assert rows[0]["matrix"] == "seed=1 trait=owl" and rows[0]["commit"] == "a" * 12 and rows[0]["dirty"] is True
    table = provenance.write_provenance(rows, tmp_path / "out")
    assert list(table.columns) == provenance.PROVENANCE_COLUMNS
    lines = (tmp_path / "out" / "provenance.csv").read_text().splitlines()
    assert lines[0] == ",".join(provenance.PROVENANCE_COLUMNS)
    assert lines[1] == f"toy,seed=1 trait=owl,{'a' * 12},true,cpu,1,3.5,3.11.7,2.13.0,,,,,{rows[0]['record']}"


def test_the_report_reads_the_records_where_the_runner_writes_them(repo_root):
    """params.yaml's report.records_dir is the runner's folder, and the report does not depend on any record."""
    assert yaml.safe_load((repo_root / "params.yaml").read_text())["report"]["records_dir"] == RECORDS
    assert all(stage.record_file().startswith(f"{RECORDS}/") for stage in STAGES.values())
    assert not [path for path in STAGES["report"].reads if path.startswith(RECORDS) or "run_record" in path]
