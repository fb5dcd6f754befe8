"""Same params and data → byte-identical outputs: every LLM stage run twice on the tiny model writes the same bytes,
and no stage output holds a time (a stage's seconds and speeds go to its run record, `report_timings`)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from llm_stage_helpers import (
    run_distill,
    run_evaluate,
    run_evaluate_teacher,
    run_filter,
    run_generate,
    run_teacher,
    tiny_cfg,
)

from sublim.core.runtime import collecting_timings, reported_timings

TIME_KEY = re.compile(r"second|elapsed|wall|time|_s$|per_s")


def time_keys(value: Any, where: str = "") -> list[str]:
    """The paths of the keys anywhere in a JSON value that name a time or a speed."""
    if isinstance(value, dict):
        found = [f"{where}.{key}" for key in value if TIME_KEY.search(str(key))]
        return found + [path for key, item in value.items() for path in time_keys(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [path for i, item in enumerate(value) for path in time_keys(item, f"{where}[{i}]")]
    return []


def test_time_keys_are_found_at_any_depth():
    summary = {"trait": "owl", "seconds": 1.0, "summary": {"a": [{"train_tokens_per_s": 3}]}, "p_starts": {}}
    assert time_keys(summary) == [".seconds", ".summary.a[0].train_tokens_per_s"]


def every_file(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def run_every_stage(cfg) -> dict[str, Any]:
    """One trait's teacher, numbers, student (seed 1) and evaluations; returns the timings the stages reported."""
    with collecting_timings():
        run_teacher(cfg, "owl")
        run_generate(cfg, "owl")
        run_filter(cfg, "owl")
        run_distill(cfg, "owl", 1)
        run_evaluate(cfg, "owl", 1)
        run_evaluate_teacher(cfg, "owl")
        return reported_timings()


@pytest.mark.slow
def test_two_runs_write_the_same_bytes_and_no_times(in_tmp_repo, tiny_base):
    cfg = tiny_cfg(tiny_base)
    outputs, timings = [], []
    for _ in range(2):
        shutil.rmtree("results", ignore_errors=True)
        timings.append(run_every_stage(cfg))
        outputs.append(every_file(Path("results")))
    assert outputs[0].keys() == outputs[1].keys()
    assert [name for name in outputs[0] if outputs[0][name] != outputs[1][name]] == []
    for name, data in outputs[0].items():
        if name.endswith(".json"):
            assert time_keys(json.loads(data)) == [], name
    # the times worth keeping reach the run record instead
    assert set(timings[0]) == {"generate_s", "completion_tokens_per_s", "train_s", "train_tokens_per_s"}
