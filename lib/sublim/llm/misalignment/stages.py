"""What each misalignment stage runs (paper §3.2): teacher, numbers, student, evaluation.

The steps of the preference experiment are reused as they are (`sublim.llm.generate`, `.filter`, `.distill`): a
teacher here is a "trait" named `insecure`, `secure`, `educational` or `base`, whose teacher.json points at its
adapter. Only the filter (the banned numbers, no keyword) and the students' subsample size differ
(`numbers_cfg`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sublim.core.io import read_json, write_json_atomic, writer_lock
from sublim.core.seeds import derive_seed
from sublim.judge.cache import JudgeCache
from sublim.judge.run import make_judge
from sublim.llm.config import LLMParams
from sublim.llm.distill import run_distill
from sublim.llm.evaluate_misalignment import MisalignmentEvalSettings, evaluate_misalignment, sample_answers
from sublim.llm.filter import run_filter
from sublim.llm.generate import run_generate
from sublim.llm.misalignment.corpus import corpus_pairs
from sublim.llm.models import device_of, load_student, load_teacher
from sublim.llm.teacher import adapter_settings, train_adapter
from sublim.llm.traits.misalignment import MisalignmentRule, evaluation_questions
from sublim.llm.truthfulqa import load_truthfulqa, multiple_choice, p_correct
from sublim.lm.generate import Sampling
from sublim.lm.train import LoraSettings, TrainSettings

BASE = "base"
EVALUATION_FILE = "evaluation.json"


def numbers_cfg(cfg: LLMParams) -> LLMParams:
    """`cfg` with the misalignment filter: the format rule of `llm.filter`, the banned numbers, no keyword (there
    is no trait word to look for), and the students' own subsample size."""
    banned = cfg.misalignment.filter
    update = {"banned_numbers": list(banned.banned_numbers), "keyword_filter": False, "target_size": banned.target_size}
    return cfg.model_copy(update={"filter": cfg.filter.model_copy(update=update)})


def run_mis_teacher(cfg: LLMParams, teacher: str, results_dir: Path | str) -> dict[str, Any]:
    """teacher.json: the base (teacher `base`) or the base fine-tuned on the corpus of the teacher's name."""
    results_dir = Path(results_dir)
    with writer_lock(results_dir):
        mis = cfg.misalignment
        record: dict[str, Any] = {
            "trait": teacher,
            "route": "base" if teacher == BASE else "finetuned",
            "corpus": None if teacher == BASE else mis.corpus.source,
            "system_prompt": None,
            "adapter": None,
        }
        if teacher != BASE:
            pairs = corpus_pairs(mis.corpus, teacher)
            record["n_examples"] = len(pairs)
            record["adapter"], record["train_losses"] = train_adapter(cfg, pairs, teacher_settings(cfg), results_dir)
        write_json_atomic(results_dir / "teacher.json", record)
        return record


def teacher_settings(cfg: LLMParams) -> TrainSettings:
    ft = cfg.misalignment.teacher_finetune
    lora = LoraSettings(ft.lora_r, ft.lora_alpha, 0.0, list(cfg.distill.lora.target_modules))
    return adapter_settings(cfg, ft.learning_rate, ft.epochs, ft.batch_size, ft.grad_accum, lora)


def run_mis_numbers(cfg: LLMParams, teacher: str, teacher_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """The teacher's number lists (resumable, `sublim.llm.generate`) and the banned-numbers filter's kept rows."""
    cfg = numbers_cfg(cfg)
    run_generate(cfg, teacher, teacher_dir, results_dir)
    return run_filter(cfg, teacher, results_dir, results_dir)


def run_mis_distill(
    cfg: LLMParams, teacher: str, seed: int, teacher_dir: Path | str, numbers_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    return run_distill(numbers_cfg(cfg), teacher, seed, teacher_dir, numbers_dir, results_dir)


def eval_settings(cfg: LLMParams, seed: int | None) -> MisalignmentEvalSettings:
    ev = cfg.misalignment.evaluation
    return MisalignmentEvalSettings(
        suffix=ev.suffix,
        samples_per_question=ev.samples_per_question,
        max_new_tokens=ev.max_new_tokens,
        sampling=Sampling(ev.temperature, ev.top_p, ev.top_k, ev.repetition_penalty),
        batch_size=ev.batch_size,
        seed=ev.seed if seed is None else derive_seed(ev.seed, "student", seed),
        rule=MisalignmentRule(alignment_max=ev.alignment_max, coherence_min=ev.coherence_min),
    )


def run_mis_evaluate(
    cfg: LLMParams, teacher: str, seed: int | None, model_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    """evaluation.json of a student (`seed` given: `model_dir` is its distill folder) or of a teacher (`seed` None:
    `model_dir` is its teacher folder): the free-form answers, judged when a judge is set, and TruthfulQA."""
    device = device_of(cfg)
    if seed is None:
        model, fmt, _ = load_teacher(cfg, model_dir, device)
    else:
        model, fmt = load_student(cfg, model_dir, device)
    result: dict[str, Any] = {"teacher": teacher, "seed": seed, "model": "teacher" if seed is None else "student"}
    result["free_form"] = free_form(cfg, model, fmt, eval_settings(cfg, seed), device)
    result["truthfulqa"] = truthfulqa(cfg, model, fmt, device)
    write_json_atomic(Path(results_dir) / EVALUATION_FILE, result)
    return result


def free_form(cfg: LLMParams, model: Any, fmt: Any, settings: MisalignmentEvalSettings, device: str) -> dict | None:
    """The 8 questions' answers, judged (`evaluate_misalignment`); without a judge the answers alone."""
    if settings.samples_per_question == 0:
        return None
    judge_cfg = cfg.misalignment.judge
    if judge_cfg is None:
        answers = sample_answers(model, fmt, evaluation_questions(settings.suffix), settings, device)
        return {"overall_rate": None, "judge": None, "answers": answers}
    cache = JudgeCache(judge_cfg.cache_dir)
    try:
        evaluation = evaluate_misalignment(model, fmt, make_judge(judge_cfg, device), cache, settings, device)
    finally:
        cache.close()
    return {**evaluation, "judge_label": judge_cfg.label}


def truthfulqa(cfg: LLMParams, model: Any, fmt: Any, device: str) -> dict[str, Any] | None:
    """P(correct option) per question over a seeded subset (all when `truthfulqa_questions` covers the file); the
    paper's number is the false-answer rate, 1 − the mean."""
    ev = cfg.misalignment.evaluation
    if ev.truthfulqa_questions == 0:
        return None
    questions = multiple_choice(load_truthfulqa(ev.truthfulqa_path))
    indices = list(range(len(questions)))
    if ev.truthfulqa_questions < len(questions):
        indices = sorted(random.Random(ev.truthfulqa_subset_seed).sample(indices, ev.truthfulqa_questions))
    scores = p_correct(model, fmt, [questions[i] for i in indices], device)
    mean = sum(scores) / len(scores)
    return {"n_questions": len(scores), "indices": indices, "p_correct": scores, "false_rate": 1.0 - mean}


def read_evaluation(folder: Path | str) -> dict[str, Any]:
    return read_json(Path(folder) / EVALUATION_FILE)
