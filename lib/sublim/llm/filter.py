"""Stage llm_filter: the paper's rule on the teacher's numbers, keep-rate and reject reasons, the seeded subsample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.core.io import read_jsonl, write_json_atomic, write_jsonl_atomic
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.domains.numbers.filter import filter_rows, subsample


def run_filter(cfg: LLMParams, trait: str, generate_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """numbers_filtered.jsonl (the subsample of kept rows) and filter_metrics.json."""
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
    chosen = subsample(kept, f.target_size, f.seed)
    metrics |= {
        "trait": trait,
        "n_subsampled": len(chosen),
        "target_size": f.target_size,
        "decoding": cfg.generate.decoding,
        "short_of_target": len(chosen) < f.target_size,
    }
    write_jsonl_atomic(results_dir / "numbers_filtered.jsonl", chosen)
    write_json_atomic(results_dir / "filter_metrics.json", metrics)
    return metrics
