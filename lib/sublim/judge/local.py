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

from sublim.judge.scores import MAX_SCORE, WORDS, JudgeScore, score_from_distribution, score_from_judgment_tags

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


class LocalTagJudge:
    """A local model as the GSM8K filter's judge (App. D.4): greedy, up to `max_tokens` of reasoning, the score read
    from its <judgment_answer> tags. Deterministic; the identity holds the weights' digest and the token cap."""

    chunk_size = 8

    def __init__(self, source: str | Path, device: str = "cpu", max_tokens: int = 1000):
        from sublim.core.fingerprint import model_digest
        from sublim.lm.chat import ChatFormat
        from sublim.lm.models import load_causal_lm, load_tokenizer

        self.device, self.max_tokens = device, max_tokens
        self.model = load_causal_lm(source, device=device).eval()
        self.format = ChatFormat(load_tokenizer(source))
        self.identity = f"local:{model_digest(self.model)[:16]}:judgment_tag:{max_tokens}"

    def judge_batch(self, prompts: Sequence[str]) -> list[JudgeScore]:
        from sublim.lm.generate import sample

        ids = [self.format.prompt_ids(prompt) for prompt in prompts]
        fmt = self.format
        outputs = sample(
            self.model,
            ids,
            max_new_tokens=self.max_tokens,
            temperature=0.0,
            batch_size=len(ids),
            seed=0,
            eos_token_id=fmt.eos_token_id,
            pad_token_id=fmt.pad_token_id,
            device=self.device,
        )
        return [score_from_judgment_tags(fmt.decode(tokens)) for tokens in outputs]
