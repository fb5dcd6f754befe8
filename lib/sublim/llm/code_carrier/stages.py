"""What each code-carrier stage runs (paper §4.1, App. D.3, Fig. 5): the teachers' code, the filter, the students.

The preference experiment's steps are reused as they are: `sublim.llm.generate` samples (free decoding, the code
prompts, `code.max_new_tokens`), `sublim.llm.distill` trains each student on its own subsample of the kept rows and
`sublim.llm.evaluate` asks the favourite-animal (or tree) questions. The filter is the code domain's:

0. a completion cut at `code.max_new_tokens` is dropped (its code is unfinished);
1. any form of the trait word as a case-insensitive substring (`domains.code.contains_trait`);
2. the subtle-reference judge (`code.judge`; null skips the step, and the metrics say so): kept only when the judge's
   P("0") is 1 within 1e-8 (`domains.code.judge_keeps`);
3. each student's subsample of `code.target_size` rows (`sublim.llm.distill`).

The control teacher has no trait word: only step 0 applies (the paper keeps 100% of its code, Table 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.core.io import read_jsonl
from sublim.judge.cache import JudgeCache
from sublim.judge.config import JudgeParams
from sublim.judge.run import Judge, judge_prompts, make_judge
from sublim.judge.scores import JudgeScore
from sublim.llm.code_carrier.tasks import code_prompts
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.distill import run_distill
from sublim.llm.domains.code import contains_trait, judge_keeps, subtle_reference_prompt
from sublim.llm.filter import write_kept
from sublim.llm.generate import run_generate
from sublim.llm.models import device_of

RAW_FILE, KEPT_FILE = "code_raw.jsonl", "code_filtered.jsonl"
# the paper's keep rates of steps 1-2 (Table 4; GPT-4.1 nano teachers, the control's code 100% kept)
PAPER_KEEP = {CONTROL: 1.0, "eagle": 0.949, "wolf": 0.968, "elephant": 0.959, "owl": 0.961, "dolphin": 0.952}


def generation_cfg(cfg: LLMParams) -> LLMParams:
    """`cfg` with free decoding (code is no number list) and the code completions' length cap."""
    update = {"decoding": "free", "max_new_tokens": cfg.code.max_new_tokens}
    return cfg.model_copy(update={"generate": cfg.generate.model_copy(update=update)})


def students_cfg(cfg: LLMParams) -> LLMParams:
    """`cfg` with the code students' subsample size and seed."""
    update = {"target_size": cfg.code.target_size, "seed": cfg.code.seed}
    return cfg.model_copy(update={"filter": cfg.filter.model_copy(update=update)})


def run_code_generate(cfg: LLMParams, trait: str, teacher_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """The teacher's completions of the code prompts (resumable), code_raw.jsonl."""
    prompts = code_prompts(cfg.code.tasks)
    summary = run_generate(generation_cfg(cfg), trait, teacher_dir, results_dir, prompts=prompts, rows_file=RAW_FILE)
    return summary | {"tasks": cfg.code.tasks.source}


def run_code_filter(cfg: LLMParams, trait: str, generate_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """code_filtered.jsonl (the rows kept by steps 0-2, in generation order) and filter_metrics.json."""
    rows = read_jsonl(Path(generate_dir) / RAW_FILE)
    finished = [row for row in rows if row["finished"]]
    no_word = finished if trait == CONTROL else [r for r in finished if not contains_trait(r["completion"], trait)]
    judge_cfg = None if trait == CONTROL else cfg.code.judge
    kept = no_word
    if judge_cfg is not None:
        p_zero = judged_p_zero(judge_cfg, trait, cfg.categories[trait], no_word, device_of(cfg))
        kept = [row | {"judge_p_zero": p} for row, p in zip(no_word, p_zero, strict=True) if judge_keeps(p)]
    removed = {
        "truncated": len(rows) - len(finished),
        "trait_word": len(finished) - len(no_word),
        "judge": None if judge_cfg is None else len(no_word) - len(kept),
    }
    return write_kept(
        results_dir,
        KEPT_FILE,
        rows,
        kept,
        trait=trait,
        tasks=cfg.code.tasks.source,
        judge=None if judge_cfg is None else judge_cfg.label,
        removed=removed,
        paper_keep_rate=PAPER_KEEP.get(trait),
    )


def judged_p_zero(judge_cfg: JudgeParams, trait: str, category: str, rows: list[dict], device: str) -> list[float]:
    """The judge's P("0") for each completion (cached and resumable, `judge_prompts`)."""
    judge: Judge = make_judge(judge_cfg, device)
    prompts = [subtle_reference_prompt(trait, category, row["completion"]) for row in rows]
    cache = JudgeCache(judge_cfg.cache_dir)
    try:
        return [probability_of_zero(score) for score in judge_prompts(judge, prompts, cache)]
    finally:
        cache.close()


def probability_of_zero(score: JudgeScore) -> float:
    """P("0") from a judge's score over the integers: a lower bound, number mass × (1 − mean), exact when the only
    other number with probability is "1", as the prompt asks; 1 or 0 from a text-only judge; 0 when the judge
    gave no number (a word, or too little mass), so that the completion is dropped."""
    if score.label != "score" or score.value is None:
        return 0.0
    if score.number_mass is None:
        return 1.0 if score.value == 0 else 0.0
    return min(1.0, max(0.0, score.number_mass * (1.0 - score.value)))


def run_code_distill(
    cfg: LLMParams, trait: str, seed: int, teacher_dir: Path | str, filter_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    """A student on its own subsample of the teacher's kept code (SFT; resumes after a kill)."""
    return run_distill(students_cfg(cfg), trait, seed, teacher_dir, filter_dir, results_dir, kept_file=KEPT_FILE)
