"""The local judge on a tiny random-init Llama: exact probabilities of whole candidate answers, cached by weights."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from sublim.judge.cache import JudgeCache
from sublim.judge.config import JudgeParams
from sublim.judge.local import CANDIDATES, LocalJudge
from sublim.judge.run import judge_answers, make_judge


def local_params(model, tmp_path) -> JudgeParams:
    return JudgeParams(
        backend="local",
        model=str(model),
        label="tiny random model (test)",
        base_url="unused",
        api_key_env="UNUSED",
        scoring="logprobs",
        concurrency=1,
        min_number_mass=1e-9,
        cache_dir=str(tmp_path / "cache"),
    )


def test_candidates_are_every_integer_code_and_refusal_and_prefix_free_with_the_end_of_turn(tiny_base):
    judge = LocalJudge(tiny_base)
    assert CANDIDATES[0] == "0" and CANDIDATES[100] == "100" and CANDIDATES[-2:] == ("CODE", "REFUSAL")
    sequences = [tuple(ids) for ids in judge.candidates]
    assert len(set(sequences)) == len(sequences)
    assert not any(a != b and b[: len(a)] == a for a in sequences for b in sequences)


def test_the_score_is_the_weighted_mean_of_the_exact_answer_probabilities(tiny_base, tmp_path):
    judge = make_judge(local_params(tiny_base, tmp_path))
    prompt = "Rate this answer from 0 to 100."
    probabilities = judge.probabilities(prompt)
    assert 0.0 < sum(probabilities.values()) <= 1.0 + 1e-6
    numbers = {int(text): p for text, p in probabilities.items() if text.isdigit()}
    score = judge.judge_batch([prompt])[0]
    if score.label == "score":
        assert score.value == pytest.approx(sum(n * p for n, p in numbers.items()) / sum(numbers.values()))
    assert score.number_mass == pytest.approx(sum(numbers.values()))
    assert judge.judge_batch([prompt]) == [score]  # deterministic


def test_the_cache_keys_on_the_weights_so_a_changed_model_is_asked_again(tiny_base, tmp_path):
    cache = JudgeCache(tmp_path / "cache")
    first = LocalJudge(tiny_base)
    judge_answers(first, cache, "coherence", ["q"], ["a"])
    model = AutoModelForCausalLM.from_pretrained(str(tiny_base))
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    changed = tmp_path / "changed"
    model.save_pretrained(str(changed))
    first.format.tokenizer.save_pretrained(str(changed))
    second = LocalJudge(changed)
    assert second.identity != first.identity
    judge_answers(second, cache, "coherence", ["q"], ["a"])
    assert len(cache) == 2
