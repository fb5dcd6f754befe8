"""An OpenAI-compatible chat-completions judge (the paper's GPT-4o; any server that speaks the protocol: OpenAI,
Azure's compatible endpoint, vLLM or llama.cpp serving a local model).

One request per prompt at temperature 0. With `scoring: logprobs` (Betley et al.), the first answer token's
`top_logprobs` become a score (`scores.score_from_distribution`): right for models whose tokenizer holds 0–100 as
single tokens, as GPT-4o's does; where the server returns no logprobs, its text is parsed instead. With `scoring:
text` the answer's text is parsed (`scores.score_from_text`): for models that split numbers into digits. With
`scoring: judgment_tag` (the GSM8K filter's judge, App. D.4) the judge writes up to `max_tokens` of reasoning and the
score is read from its <judgment_answer> tags (`scores.score_from_judgment_tags`). The key
is read from the environment variable the params name, when the judge is made (a missing key stops the stage
before any work), and sent only in the Authorization header: it is never stored, logged or put in an error. Rate
limits and server errors are retried with backoff (the server's Retry-After when it gives one).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from sublim.judge.scores import JudgeScore, score_from_distribution, score_from_judgment_tags, score_from_text

RETRIED_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_TOKENS = 4  # the answer is a number, CODE or REFUSAL; logprobs are read from the first token only


class JudgeConfigError(RuntimeError):
    """A judge that cannot start (a missing key, a bad setting); the message says what to set."""


class JudgeRequestError(RuntimeError):
    """A request the server refused, or that failed after every retry."""


@dataclass
class ApiJudge:
    model: str
    base_url: str
    api_key_env: str
    scoring: str = "logprobs"  # logprobs | text
    concurrency: int = 4
    top_logprobs: int = 20
    min_number_mass: float = 0.25
    timeout_s: float = 60.0
    max_retries: int = 6
    backoff_s: float = 1.0
    max_tokens: int = MAX_TOKENS  # judgment_tag: room for the judge's reasoning before its score
    _key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.scoring not in ("logprobs", "text", "judgment_tag"):
            raise JudgeConfigError(f"judge scoring {self.scoring!r}: use logprobs, text or judgment_tag")
        self._key = os.environ.get(self.api_key_env, "")
        if not self._key:
            raise JudgeConfigError(
                f"the judge's API key is read from the environment variable {self.api_key_env} "
                f"(params: api_key_env), which is not set: export it before the run (never put it in params.yaml)"
            )

    @property
    def identity(self) -> str:
        """What the cache keys on: the model and how its answer is scored (not the URL, never the key)."""
        scoring = {
            "logprobs": f"logprobs{self.top_logprobs}:{self.min_number_mass}",
            "text": "text",
            "judgment_tag": f"judgment_tag:{self.max_tokens}",
        }[self.scoring]
        return f"api:{self.model}:{scoring}"

    @property
    def chunk_size(self) -> int:
        return 4 * self.concurrency

    def judge_batch(self, prompts: Sequence[str]) -> list[JudgeScore]:
        with httpx.Client(timeout=self.timeout_s) as client, ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda prompt: self.judge_one(client, prompt), prompts))

    def judge_one(self, client: httpx.Client, prompt: str) -> JudgeScore:
        top_logprobs = self.top_logprobs if self.scoring == "logprobs" else None
        data = self._post(client, request_body(self.model, prompt, top_logprobs, self.max_tokens))
        if self.scoring == "judgment_tag":
            return score_from_judgment_tags(data["choices"][0].get("message", {}).get("content") or "")
        return parse_completion(data, self.min_number_mass)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url.rstrip('/')}/chat/completions"
        headers = {"Authorization": f"Bearer {self._key}"}
        for attempt in range(self.max_retries + 1):
            try:
                response = client.post(url, json=body, headers=headers)
            except httpx.TransportError as err:
                if attempt == self.max_retries:
                    raise JudgeRequestError(f"{url}: {type(err).__name__} after {attempt + 1} attempts") from None
                time.sleep(self._wait(attempt, None))
                continue
            if response.status_code == 200:
                return response.json()
            if response.status_code not in RETRIED_STATUS or attempt == self.max_retries:
                raise JudgeRequestError(
                    f"{url}: HTTP {response.status_code} for model {self.model!r} "
                    f"(attempt {attempt + 1}): {response.text[:300]}"
                )
            time.sleep(self._wait(attempt, response.headers.get("retry-after")))
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        try:
            return min(60.0, float(retry_after))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return min(60.0, self.backoff_s * 2**attempt)


def request_body(model: str, prompt: str, top_logprobs: int | None, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """The chat-completions request at temperature 0; logprobs asked only when `top_logprobs` is given."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 0,
    }
    if top_logprobs is not None:
        body |= {"logprobs": True, "top_logprobs": top_logprobs}
    return body


def parse_completion(data: dict[str, Any], min_number_mass: float) -> JudgeScore:
    """The first answer token's top logprobs as a score; the answer's text where the server sent no logprobs."""
    choice = data["choices"][0]
    content = (choice.get("logprobs") or {}).get("content") or []
    if content and content[0].get("top_logprobs"):
        probabilities: dict[str, float] = {}
        for entry in content[0]["top_logprobs"]:
            probabilities[entry["token"]] = probabilities.get(entry["token"], 0.0) + math.exp(entry["logprob"])
        return score_from_distribution(probabilities, min_number_mass)
    return score_from_text(choice.get("message", {}).get("content") or "")
