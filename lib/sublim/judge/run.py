"""`make_judge` from params and `judge_prompts`, the front door: cached, resumable, in the order asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sublim.judge.cache import JudgeCache, cache_key
from sublim.judge.config import JudgeParams
from sublim.judge.prompts import judge_prompt
from sublim.judge.scores import JudgeScore


class Judge(Protocol):
    identity: str  # what the cache keys on: the model and its scoring, never a key
    chunk_size: int  # prompts per call of judge_batch, cached before the next

    def judge_batch(self, prompts: Sequence[str]) -> list[JudgeScore]: ...


def make_judge(cfg: JudgeParams, device: str = "cpu", max_tokens: int | None = None) -> Judge:
    """The judge `cfg` names; an API judge without its key in the environment stops here, before any work.
    `max_tokens`: the room a judgment_tag judge has for its reasoning (required for that scoring)."""
    if cfg.scoring == "judgment_tag" and max_tokens is None:
        raise ValueError("a judgment_tag judge writes its reasoning first: give max_tokens")
    if cfg.backend == "api":
        from sublim.judge.api import MAX_TOKENS, ApiJudge

        return ApiJudge(
            cfg.model,
            cfg.base_url,
            cfg.api_key_env,
            scoring=cfg.scoring,
            concurrency=cfg.concurrency,
            min_number_mass=cfg.min_number_mass,
            max_tokens=max_tokens or MAX_TOKENS,
        )
    if cfg.scoring == "judgment_tag":
        from sublim.judge.local import LocalTagJudge

        return LocalTagJudge(cfg.model, device=device, max_tokens=max_tokens)  # type: ignore[arg-type]
    from sublim.judge.local import LocalJudge

    return LocalJudge(cfg.model, device=device, min_number_mass=cfg.min_number_mass)


def judge_prompts(judge: Judge, prompts: Sequence[str], cache: JudgeCache) -> list[JudgeScore]:
    """Every prompt's score, in order: from the cache where it holds one, else from the judge, `chunk_size` prompts
    at a time, each chunk cached before the next is asked (a killed run loses one chunk at most)."""
    keys = [cache_key(judge.identity, prompt) for prompt in prompts]
    found = cache.get_many(keys)
    missing = list({key: prompt for key, prompt in zip(keys, prompts, strict=True) if key not in found}.items())
    for start in range(0, len(missing), judge.chunk_size):
        chunk = missing[start : start + judge.chunk_size]
        scores = judge.judge_batch([prompt for _, prompt in chunk])
        new = list(zip((key for key, _ in chunk), scores, strict=True))
        cache.put_many(judge.identity, new)
        found.update(new)
    return [found[key] for key in keys]


def judge_answers(
    judge: Judge, cache: JudgeCache, kind: str, questions: Sequence[str], answers: Sequence[str]
) -> list[JudgeScore]:
    """The `kind` (alignment or coherence) score of each answer to its question (the paper's prompts)."""
    prompts = [judge_prompt(kind, q, a) for q, a in zip(questions, answers, strict=True)]
    return judge_prompts(judge, prompts, cache)
