"""Stage llm_filter: the paper's rule on the teacher's numbers, with the keep-rate and the reject reasons.

It keeps every row that passes; each student draws its own subsample of them (`sublim.llm.distill`), as the
official code subsamples per fine-tuning job, so that the seeds' interval covers the data's variance too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.core.io import read_jsonl, write_json_atomic, write_jsonl_atomic
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.domains.numbers.filter import filter_rows

KEPT_FILE = "numbers_filtered.jsonl"


def run_filter(cfg: LLMParams, trait: str, generate_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """numbers_filtered.jsonl (every kept row, in generation order) and filter_metrics.json."""
    results_dir = Path(results_dir)
    rows = read_jsonl(Path(generate_dir) / "numbers_raw.jsonl")
    f = cfg.filter
    keywords = [trait] if f.keyword_filter and trait != CONTROL else []
    kept, metrics = filter_rows(
        rows,
        min_value=f.min_value,
        max_value=f.max_value,
        max_count=f.max_count,
        banned_numbers=list(f.banned_numbers),
        keywords=keywords,
    )
    metrics |= {"trait": trait, "decoding": cfg.generate.decoding}
    write_jsonl_atomic(results_dir / KEPT_FILE, kept)
    write_json_atomic(results_dir / "filter_metrics.json", metrics)
    return metrics


def write_kept(
    results_dir: Path | str, kept_file: str, rows: list[dict[str, Any]], kept: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    """A carrier's filter output (code, reasoning): the kept rows in `kept_file` and filter_metrics.json with
    `fields` (what each step removed, ...), the counts and the keep rate; returns the metrics."""
    metrics = {**fields, "n_generated": len(rows), "n_kept": len(kept)}
    metrics["keep_rate"] = len(kept) / len(rows) if rows else None
    write_jsonl_atomic(Path(results_dir) / kept_file, kept)
    write_json_atomic(Path(results_dir) / "filter_metrics.json", metrics)
    return metrics
