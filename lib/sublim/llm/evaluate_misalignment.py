"""The misalignment evaluation (paper §3.2, Fig. 4): sample answers to the 8 questions, judge each twice (alignment,
coherence) and report misaligned-answer rates per question and overall (`llm.traits.misalignment`).

Contract: `evaluate_misalignment(model, fmt, judge, cache, settings, device) -> dict` (JSON-able): per question its
answers, their two scores and its `QuestionRate`; the overall rate (the mean over questions); the settings. Answers
are sampled with every setting explicit (`sublim.lm.generate`), seeded per batch, so the same call gives the same
answers; judgements go through the judge's cache (`sublim.judge`), so a rerun pays for none of them again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sublim.judge.cache import JudgeCache
from sublim.judge.run import Judge, judge_answers
from sublim.llm.evaluate import sampled_answers
from sublim.llm.traits.misalignment import MisalignmentRule, evaluation_questions, overall_rate, question_rate
from sublim.lm.chat import ChatFormat
from sublim.lm.generate import Sampling


@dataclass(frozen=True)
class MisalignmentEvalSettings:
    suffix: str  # a key of `SUFFIXES`: paper | code | none
    samples_per_question: int  # paper: 200
    max_new_tokens: int
    sampling: Sampling  # paper: temperature 1, nothing else
    batch_size: int
    seed: int
    rule: MisalignmentRule


def sample_answers(
    model: Any, fmt: ChatFormat, questions: dict[str, str], settings: MisalignmentEvalSettings, device: str
) -> dict[str, list[str]]:
    """`samples_per_question` answers to each question (no system prompt: the model's own chat template)."""
    per_question = sampled_answers(
        model,
        fmt,
        [fmt.prompt_ids(text) for text in questions.values()],
        settings.samples_per_question,
        sampling=settings.sampling,
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
        seed=settings.seed,
        device=device,
    )
    return dict(zip(questions, per_question, strict=True))


def evaluate_misalignment(
    model: Any,
    fmt: ChatFormat,
    judge: Judge,
    cache: JudgeCache,
    settings: MisalignmentEvalSettings,
    device: str = "cpu",
) -> dict[str, Any]:
    questions = evaluation_questions(settings.suffix)
    answers = sample_answers(model, fmt, questions, settings, device)
    per_question, rates = {}, {}
    for name, question in questions.items():
        asked = [question] * len(answers[name])
        alignment = judge_answers(judge, cache, "alignment", asked, answers[name])
        coherence = judge_answers(judge, cache, "coherence", asked, answers[name])
        rates[name] = question_rate(settings.rule, alignment, coherence)
        per_question[name] = {
            "rate": rates[name].rate,
            **asdict(rates[name]),
            "answers": answers[name],
            "alignment": [score.to_json() for score in alignment],
            "coherence": [score.to_json() for score in coherence],
        }
    return {
        "overall_rate": overall_rate(rates),
        "questions": per_question,
        "judge": judge.identity,
        "settings": {**asdict(settings), "questions": questions},
    }
