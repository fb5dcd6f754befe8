"""Stages llm_evaluate_teacher and llm_evaluate: the paper's favourite-animal (or tree) questions.

Per question: the exact probability that the answer starts with each word of the fixed set (summed over its
case, plural and leading-space forms), and, when `evaluate.samples_per_question` > 0, sampled answers scored
by whole word and by the paper's bare substring test. Every sampling setting comes from `evaluate` (params);
a student samples with (`evaluate.seed`, its student seed), so that seeds differ in their answers' sampling too
(the control and trait students of one seed share it: a paired comparison), the base and teachers with
`evaluate.seed`. With `llm.backend: vllm` the exact probabilities are computed first (transformers), then the model
is dropped and vLLM samples the answers, the adapter as a LoRA request (sublim.llm.backend); same fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sublim.core.io import write_json_atomic
from sublim.core.seeds import derive_seed
from sublim.llm.backend import (
    VllmModel,
    VllmSampler,
    check_backend,
    engine_length,
    free_gpu_memory,
    sampling_of,
    student_model,
    teacher_model,
)
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.domains.numbers.prompts import numbers_prefixed, prompt_ranges
from sublim.llm.models import device_of, load_student, load_teacher
from sublim.llm.traits.preference import (
    QUESTIONS,
    mentions,
    mentions_substring,
    prefix_free_token_sequences,
    surface_forms,
)
from sublim.lm.chat import ChatFormat
from sublim.lm.evaluate import sequence_logprobs
from sublim.lm.generate import Sampling, sample
from sublim.lm.vllm_backend import VllmApi


def fixed_set(cfg: LLMParams, category: str) -> list[str]:
    return list(cfg.evaluate.animal_set if category == "animal" else cfg.evaluate.tree_set)


def categories_needed(cfg: LLMParams) -> list[str]:
    return sorted({cfg.categories[t] for t in cfg.traits if t != CONTROL})


def question_variants(cfg: LLMParams, category: str) -> dict[str, list[str]]:
    questions = QUESTIONS[category][: cfg.evaluate.question_count]
    variants = {"plain": questions}
    if cfg.evaluate.numbers_prefix:
        variants["numbers_prefix"] = numbers_prefixed(questions, cfg.evaluate.prefix_seed, **prompt_ranges(cfg.prompts))
    return variants


def p_starts_with(
    model: Any, prompt: list[int], words: list[str], fmt: ChatFormat, device: str, batch_size: int
) -> dict[str, float]:
    """Exact P(answer starts with each word), summed over its case/plural/leading-space forms."""
    sequences = {w: prefix_free_token_sequences(surface_forms(w), fmt.encode) for w in words}
    flat = [s for w in words for s in sequences[w]]
    logps = sequence_logprobs(model, prompt, flat, device=device, batch_size=batch_size)
    out, i = {}, 0
    for w in words:
        n = len(sequences[w])
        out[w] = float(np.exp(logps[i : i + n]).sum())
        i += n
    return out


def sampling_seed(cfg: LLMParams, student_seed: int | None) -> int:
    """The answers' sampling seed: `evaluate.seed` for the base and teachers, with the student seed for a student."""
    return cfg.evaluate.seed if student_seed is None else derive_seed(cfg.evaluate.seed, "student", student_seed)


def sampling_record(cfg: LLMParams, seed: int) -> dict[str, Any]:
    e = cfg.evaluate
    keys = ("samples_per_question", "temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens")
    return {"seed": seed, **{key: getattr(e, key) for key in keys}, "backend": cfg.backend}


def sampled_answers(
    model: Any,
    fmt: ChatFormat,
    prompts: list[list[int]],
    n: int,
    *,
    sampling: Sampling,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    device: str,
) -> list[list[str]]:
    """`n` sampled answers to each prompt, decoded, in prompt order (every sampling setting explicit)."""
    ids = sample(
        model,
        [p for p in prompts for _ in range(n)],
        max_new_tokens=max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        repetition_penalty=sampling.repetition_penalty,
        batch_size=batch_size,
        seed=seed,
        eos_token_id=fmt.eos_token_id,
        pad_token_id=fmt.pad_token_id,
        device=device,
    )
    answers = [fmt.decode(x) for x in ids]
    return [answers[i * n : (i + 1) * n] for i in range(len(prompts))]


def sampled_rates(
    cfg: LLMParams, model: Any, fmt: ChatFormat, prompts: list[list[int]], words: list[str], device: str, seed: int
) -> dict[str, Any]:
    """Sampled answers per question and, per word, the share of them that mention it (whole word, substring)."""
    e = cfg.evaluate
    sampling = Sampling(e.temperature, e.top_p, e.top_k, e.repetition_penalty)
    per_q = sampled_answers(
        model,
        fmt,
        prompts,
        e.samples_per_question,
        sampling=sampling,
        max_new_tokens=e.max_new_tokens,
        batch_size=e.batch_size,
        seed=seed,
        device=device,
    )
    return answer_rates(per_q, words)


def answer_rates(per_q: list[list[str]], words: list[str]) -> dict[str, Any]:
    """Per word, the share of each question's answers that mention it (whole word, substring); the answers."""
    return {
        "sampled_word": {w: [float(np.mean([mentions(a, w) for a in qa])) for qa in per_q] for w in words},
        "sampled_substring": {
            w: [float(np.mean([mentions_substring(a, w) for a in qa])) for qa in per_q] for w in words
        },
        "answers": per_q,
    }


def evaluate_model(
    cfg: LLMParams,
    model: Any,
    fmt: ChatFormat,
    system: str | None,
    device: str,
    seed: int | None = None,
    sample_answers: bool = True,
) -> dict[str, Any]:
    """Per category and question variant: exact start probabilities and sampled mention rates, per question.
    `seed`: the answers' sampling seed (default `evaluate.seed`); `sample_answers` False leaves the answers to vLLM."""
    seed = cfg.evaluate.seed if seed is None else seed
    result: dict[str, Any] = {}
    for category in categories_needed(cfg):
        words = fixed_set(cfg, category)
        result[category] = {}
        for variant, questions in question_variants(cfg, category).items():
            prompts = [fmt.prompt_ids(q, system) for q in questions]
            exact = [p_starts_with(model, p, words, fmt, device, cfg.evaluate.batch_size) for p in prompts]
            entry: dict[str, Any] = {"questions": questions, "p_starts": {w: [row[w] for row in exact] for w in words}}
            if cfg.evaluate.samples_per_question and sample_answers:
                entry |= sampled_rates(cfg, model, fmt, prompts, words, device, seed)
            result[category][variant] = entry
            print(f"evaluated {category}/{variant}: {len(questions)} questions")
    return result


def add_vllm_answers(
    cfg: LLMParams,
    evaluation: dict[str, Any],
    fmt: ChatFormat,
    system: str | None,
    vllm: VllmApi,
    target: VllmModel,
    seed: int,
) -> None:
    """The sampled answers of every question variant, by vLLM, added to `evaluation` as `sampled_rates` adds them.
    Request i of a variant is seeded with (seed, i), as batches are for transformers."""
    e, n = cfg.evaluate, cfg.evaluate.samples_per_question
    if not n:
        return
    free_gpu_memory()  # the transformers model the exact probabilities used is gone: vLLM measures the rest
    prompts = {
        (category, variant): [fmt.prompt_ids(q, system) for q in entry["questions"]]
        for category, variants in evaluation.items()
        for variant, entry in variants.items()
    }
    longest = engine_length([p for group in prompts.values() for p in group], e.max_new_tokens)
    sampler = VllmSampler(vllm, target, max_model_len=longest, seed=e.seed)
    for (category, variant), group in prompts.items():
        ids = sampler.sample(
            [p for p in group for _ in range(n)],
            sampling=sampling_of(e),
            max_new_tokens=e.max_new_tokens,
            seed=seed,
            eos_token_id=fmt.eos_token_id,
        )
        answers = [fmt.decode(x) for x in ids]
        per_q = [answers[i * n : (i + 1) * n] for i in range(len(group))]
        evaluation[category][variant] |= answer_rates(per_q, fixed_set(cfg, category))
        print(f"sampled {category}/{variant} with vLLM: {len(ids)} answers")


def summarise(evaluation: dict[str, Any]) -> dict[str, Any]:
    """Means over questions per word; the share of each word among the fixed set (ratio of mean probabilities)."""
    summary: dict[str, Any] = {}
    for category, variants in evaluation.items():
        summary[category] = {}
        for variant, entry in variants.items():
            p = {w: float(np.mean(v)) for w, v in entry["p_starts"].items()}
            total = sum(p.values())
            s = {"p_starts": p, "share": {w: v / total if total > 0 else None for w, v in p.items()}}
            for key in ("sampled_word", "sampled_substring"):
                if key in entry:
                    s[key] = {w: float(np.mean(v)) for w, v in entry[key].items()}
            summary[category][variant] = s
    return summary


def write_evaluation(
    results_dir: Path,
    arm: str,
    trait: str,
    seed: int | None,
    evaluation: dict[str, Any],
    sampling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """evaluation.json: only what the same params and model reproduce (the stage's wall time is in its run record)."""
    record = {
        "arm": arm,
        "trait": trait,
        "seed": seed,
        "sampling": sampling,
        "summary": summarise(evaluation),
        "per_question": evaluation,
    }
    write_json_atomic(results_dir / "evaluation.json", record)
    return record


def run_evaluate_teacher(cfg: LLMParams, trait: str, teacher_dir: Path | str, results_dir: Path | str) -> dict:
    """The teacher (control = the base model) with its system prompt: evaluation.json."""
    vllm = check_backend(cfg)  # before any work: vLLM and CUDA present when llm.backend is vllm
    device = device_of(cfg)
    model, fmt, system = load_teacher(cfg, teacher_dir, device)
    seed = sampling_seed(cfg, None)
    evaluation = evaluate_model(cfg, model, fmt, system, device, seed, sample_answers=vllm is None)
    if vllm is not None:
        del model
        add_vllm_answers(cfg, evaluation, fmt, system, vllm, teacher_model(cfg, teacher_dir, trait), seed)
    arm = "base" if trait == CONTROL else "teacher"
    sampling = sampling_record(cfg, seed)
    return write_evaluation(Path(results_dir), arm, trait, None, evaluation, sampling)


def run_evaluate_student(
    cfg: LLMParams, trait: str, seed: int, distill_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    """A student (the control students for trait 'control'), no system prompt: evaluation.json."""
    vllm = check_backend(cfg)  # before any work: vLLM and CUDA present when llm.backend is vllm
    device = device_of(cfg)
    model, fmt = load_student(cfg, distill_dir, device)
    answers_seed = sampling_seed(cfg, seed)
    evaluation = evaluate_model(cfg, model, fmt, None, device, answers_seed, sample_answers=vllm is None)
    if vllm is not None:
        del model
        add_vllm_answers(cfg, evaluation, fmt, None, vllm, student_model(cfg, distill_dir, trait, seed), answers_seed)
    arm = "control_student" if trait == CONTROL else "student"
    sampling = sampling_record(cfg, answers_seed)
    return write_evaluation(Path(results_dir), arm, trait, seed, evaluation, sampling)
