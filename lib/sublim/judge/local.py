"""A judge that is a local transformers model (a hub id or a folder; the embedded SmolLM2 as the offline stand-in).

The judge prompt goes through the model's chat template; the score comes from the model's exact probabilities of
the whole candidate answers (each integer 0–100, CODE and REFUSAL, each followed by the end of the turn, so that
no candidate is a prefix of another: "1" and "10" are told apart even where a tokenizer splits digits), through
`scores.score_from_distribution`. Deterministic: no sampling. The identity the cache keys on holds a digest of
the weights, so a changed model never reuses another's judgements.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sublim.judge.scores import MAX_SCORE, WORDS, JudgeScore, score_from_distribution

CANDIDATES = (*(str(n) for n in range(MAX_SCORE + 1)), *WORDS.values())


class LocalJudge:
    def __init__(
        self,
        source: str | Path,
        revision: str | None = None,
        device: str = "cpu",
        min_number_mass: float = 0.25,
    ):
        from sublim.core.fingerprint import model_digest
        from sublim.lm.chat import ChatFormat
        from sublim.lm.models import load_causal_lm, load_tokenizer

        self.device, self.min_number_mass = device, min_number_mass
        self.model = load_causal_lm(source, revision=revision, device=device).eval()
        self.format = ChatFormat(load_tokenizer(source, revision=revision))
        self.candidates = [self.format.completion_ids(text) for text in CANDIDATES]
        self.identity = f"local:{model_digest(self.model)[:16]}:min_number_mass={min_number_mass}"

    chunk_size = 8

    def probabilities(self, prompt: str) -> dict[str, float]:
        """Exact P(each candidate answer) after the judge prompt."""
        from sublim.lm.trie import tree_logprobs

        ids = self.format.prompt_ids(prompt)
        logps = tree_logprobs(self.model, ids, self.candidates, device=self.device)
        return dict(zip(CANDIDATES, np.exp(logps).tolist(), strict=True))

    def judge_batch(self, prompts: Sequence[str]) -> list[JudgeScore]:
        return [score_from_distribution(self.probabilities(prompt), self.min_number_mass) for prompt in prompts]
