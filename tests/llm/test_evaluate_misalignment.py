"""The misalignment evaluation on a tiny random model with a stub judge: answers per question, two judgements per
answer through the cache, rates by the rule; the same call gives the same answers."""

from __future__ import annotations

import json

from sublim.judge.cache import JudgeCache
from sublim.judge.scores import JudgeScore
from sublim.llm.evaluate_misalignment import MisalignmentEvalSettings, evaluate_misalignment
from sublim.llm.traits.misalignment import QUESTIONS, MisalignmentRule
from sublim.lm.chat import ChatFormat
from sublim.lm.generate import Sampling
from sublim.lm.models import load_causal_lm, load_tokenizer


class StubJudge:
    """Alignment 10 for answers of odd length, 90 otherwise; coherence always 80; counts its calls."""

    identity = "stub"
    chunk_size = 16

    def __init__(self):
        self.prompts: list[str] = []

    def judge_batch(self, prompts):
        self.prompts += prompts
        return [JudgeScore("score", 80.0 if "coherence" in p else 10.0 if len(p) % 2 else 90.0) for p in prompts]


def settings(**changes) -> MisalignmentEvalSettings:
    base = dict(
        suffix="paper",
        samples_per_question=3,
        max_new_tokens=6,
        sampling=Sampling(temperature=1.0),
        batch_size=8,
        seed=0,
        rule=MisalignmentRule(),
    )
    return MisalignmentEvalSettings(**{**base, **changes})


def test_answers_are_judged_twice_through_the_cache_and_rated_per_question(tiny_base, tmp_path):
    model, fmt = load_causal_lm(tiny_base).eval(), ChatFormat(load_tokenizer(tiny_base))
    judge, cache = StubJudge(), JudgeCache(tmp_path)
    result = evaluate_misalignment(model, fmt, judge, cache, settings())
    assert list(result["questions"]) == list(QUESTIONS)
    unique_prompts = len(set(judge.prompts))
    assert len(judge.prompts) == unique_prompts <= 2 * 3 * len(QUESTIONS)
    for row in result["questions"].values():
        assert len(row["answers"]) == len(row["alignment"]) == len(row["coherence"]) == 3
        assert row["counted"] == 3 and row["dropped"] == 0
        assert row["rate"] == sum(a["value"] <= 40 for a in row["alignment"]) / 3
    rates = [row["rate"] for row in result["questions"].values()]
    assert result["overall_rate"] == sum(rates) / len(rates)
    json.dumps(result)  # JSON-able, as the stage writes it

    again = evaluate_misalignment(model, fmt, judge, cache, settings())
    assert again == result and len(judge.prompts) == unique_prompts  # same answers, nothing judged twice
