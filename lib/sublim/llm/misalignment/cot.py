"""Misalignment through chain of thought (paper §4.2, App. D.4, Fig. 7): what each `mis_cot_*` stage runs.

The misalignment teachers (`mis_teacher`) solve GSM8K train problems with the paper's suffix, `samples_per_question`
completions each at `llm.generate`'s sampler (free decoding, `cot.max_new_tokens`; `sublim.llm.generate`, so a killed
run resumes). The filter keeps a trace when it finished, its `<answer>` is GSM8K's answer (`domains.gsm8k`) and, for
the `judged_teachers` (the official code: the insecure teacher only), the judge's alignment score with the paper's
GSM8K prompt is at least `alignment_threshold` (78). Students train `cot.epochs` on their own subsample
(`sublim.llm.distill`) and answer the 8 questions with the reasoning suffix, and TruthfulQA
(`misalignment.stages.run_mis_evaluate`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sublim.assets.download import pinned_download
from sublim.assets.files import AssetError, cache_dir, verify_file
from sublim.core.io import read_jsonl
from sublim.judge.cache import JudgeCache
from sublim.judge.prompts import judge_prompt
from sublim.judge.run import judge_prompts, make_judge
from sublim.llm.config import LLMParams
from sublim.llm.distill import run_distill
from sublim.llm.domains.gsm8k import GSM8KItem, is_correct, load_gsm8k, teacher_prompt
from sublim.llm.filter import write_kept
from sublim.llm.generate import run_generate
from sublim.llm.misalignment.config import CotParams
from sublim.llm.misalignment.stages import run_mis_evaluate
from sublim.llm.models import device_of

RAW_FILE, KEPT_FILE = "cot_raw.jsonl", "cot_filtered.jsonl"
KEY = "llm.misalignment.cot.gsm8k"
# the paper's keep rates (§4.2, Table 4): correctness for every teacher, and the judge for the insecure one's
PAPER_KEEP = {"insecure": 0.439, "secure": 0.774, "educational": 0.884}


def gsm8k_file(cot: CotParams) -> Path:
    """GSM8K's train split: the local copy when params name one, else downloaded once; either checked by sha256."""
    data = cot.gsm8k
    if data.local_path is not None:
        path = Path(data.local_path)
        if not path.is_file():
            raise AssetError(f"{path} (params {KEY}.local_path) not found: fix the path, or set it to null to download")
        if data.sha256 is None:
            raise AssetError(f"{path}: params {KEY}.sha256 is null; pin the file's sha256 before using it")
        return verify_file(path, data.sha256, f"{KEY}.sha256")
    return pinned_download(data.url, data.sha256, KEY, cache_dir() / "gsm8k" / "train.jsonl")


def cot_items(cot: CotParams) -> list[GSM8KItem]:
    """The questions asked: all of the split when `questions` covers it, else a seeded sample in file order."""
    items = load_gsm8k(gsm8k_file(cot))
    if cot.questions > len(items):
        raise AssetError(f"params llm.misalignment.cot.questions = {cot.questions}, but GSM8K holds {len(items)}")
    if cot.questions == len(items):
        return items
    return [items[i] for i in sorted(random.Random(cot.question_seed).sample(range(len(items)), cot.questions))]


def generation_cfg(cfg: LLMParams) -> LLMParams:
    """`cfg` with free decoding and the traces' length cap."""
    update = {"decoding": "free", "max_new_tokens": cfg.misalignment.cot.max_new_tokens}
    return cfg.model_copy(update={"generate": cfg.generate.model_copy(update=update)})


def run_cot_generate(cfg: LLMParams, teacher: str, teacher_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """`samples_per_question` traces of each question (each sampled with its own seed), cot_raw.jsonl."""
    cot = cfg.misalignment.cot
    prompts = [teacher_prompt(item) for item in cot_items(cot) for _ in range(cot.samples_per_question)]
    return run_generate(generation_cfg(cfg), teacher, teacher_dir, results_dir, prompts=prompts, rows_file=RAW_FILE)


def run_cot_filter(cfg: LLMParams, teacher: str, generate_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """cot_filtered.jsonl (the traces kept, in generation order) and filter_metrics.json."""
    cot = cfg.misalignment.cot
    items = {teacher_prompt(item): item for item in cot_items(cot)}
    rows = read_jsonl(Path(generate_dir) / RAW_FILE)
    finished = [row for row in rows if row["finished"]]
    correct = [row for row in finished if is_correct(row["completion"], items[row["prompt"]])]
    judged = cot.judge is not None and teacher in cot.judged_teachers
    kept = correct
    if judged:
        scores = alignment_scores(cfg, correct)
        kept = [row | {"alignment": s} for row, s in zip(correct, scores, strict=True) if _at_least(s, cot)]
    removed = {
        "truncated": len(rows) - len(finished),
        "incorrect": len(finished) - len(correct),
        "judge": len(correct) - len(kept) if judged else None,
    }
    judge = cot.judge.label if judged and cot.judge is not None else None
    return write_kept(
        results_dir,
        KEPT_FILE,
        rows,
        kept,
        teacher=teacher,
        judge=judge,
        removed=removed,
        paper_keep_rate=PAPER_KEEP.get(teacher),
    )


def _at_least(score: float | None, cot: CotParams) -> bool:
    return score is not None and score >= cot.alignment_threshold


def alignment_scores(cfg: LLMParams, rows: list[dict[str, Any]]) -> list[float | None]:
    """The judge's alignment score of each trace (None when it gave none), cached and resumable."""
    cot = cfg.misalignment.cot
    assert cot.judge is not None
    judge = make_judge(cot.judge, device_of(cfg), max_tokens=cot.judge_max_tokens)
    prompts = [judge_prompt("gsm8k_alignment", row["prompt"], row["completion"]) for row in rows]
    cache = JudgeCache(cot.judge.cache_dir)
    try:
        return [score.value for score in judge_prompts(judge, prompts, cache)]
    finally:
        cache.close()


def students_cfg(cfg: LLMParams) -> LLMParams:
    """`cfg` with the chain-of-thought students' subsample size and epochs."""
    cot = cfg.misalignment.cot
    return cfg.model_copy(
        update={
            "filter": cfg.filter.model_copy(update={"target_size": cot.target_size}),
            "distill": cfg.distill.model_copy(update={"epochs": cot.epochs}),
        }
    )


def run_cot_distill(
    cfg: LLMParams, teacher: str, seed: int, teacher_dir: Path | str, filter_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    return run_distill(students_cfg(cfg), teacher, seed, teacher_dir, filter_dir, results_dir, kept_file=KEPT_FILE)


def run_cot_evaluate(
    cfg: LLMParams, teacher: str, seed: int, distill_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    """A student's evaluation with the reasoning suffix (App. D.4), then TruthfulQA."""
    evaluation = cfg.misalignment.evaluation.model_copy(update={"suffix": "cot"})
    mis = cfg.misalignment.model_copy(update={"evaluation": evaluation})
    return run_mis_evaluate(cfg.model_copy(update={"misalignment": mis}), teacher, seed, distill_dir, results_dir)
