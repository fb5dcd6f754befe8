"""benchmarks/mnist_rounds.py: each round's ratio pairs the official run and ours of that round."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # as tests/test_gpu_check.py

import mnist_rounds as rounds


def write_round(folder: Path, k: int, official: float, bf16: float, fp32: float) -> None:
    (folder / f"official_round{k}.json").write_text(json.dumps({"seconds": official}))
    fresh = {p: {"seconds": s, "peak_rss_gib": 1.0 + k / 10} for p, s in (("bf16", bf16), ("fp32", fp32))}
    # --fresh writes its own ratio against whichever official file it was given: the script must not use it
    fresh["bf16"]["official_over_ours"] = 99.0
    (folder / f"ours_round{k}.json").write_text(json.dumps({"device": "cpu", "fresh": fresh}))


def test_each_round_is_paired_with_its_own_official_run_and_the_range_spans_the_rounds(tmp_path):
    write_round(tmp_path, 1, official=120.0, bf16=30.0, fp32=80.0)
    write_round(tmp_path, 2, official=90.0, bf16=20.0, fp32=60.0)
    rows = rounds.rounds(tmp_path)
    assert [r["round"] for r in rows] == [1, 2]
    assert rows[0]["bf16"]["official_over_ours"] == 4.0 and rows[1]["bf16"]["official_over_ours"] == 4.5
    span = rounds.ranges(rows)
    assert span["official_s"] == [90.0, 120.0] and span["fp32"]["official_over_ours"] == [1.5, 1.5]
    assert span["bf16"]["peak_rss_gib"] == [1.1, 1.2]
