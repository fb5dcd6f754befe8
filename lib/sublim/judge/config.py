"""`JudgeParams`: the params block of a judge, for the stages that judge answers (misalignment, code, reasoning)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sublim.core.params import Section


class JudgeParams(Section):
    backend: Literal["api", "local"] = Field(
        description="api: an OpenAI-compatible chat-completions server (the paper: GPT-4o); local: a transformers "
        "model by hub id or folder (the embedded SmolLM2 is the offline stand-in, a weak judge)"
    )
    model: str = Field(description="api: the model name (gpt-4o-2024-08-06); local: a hub id or a model folder")
    label: str = Field(description="how the report names this judge beside every result it scores", min_length=1)
    base_url: str = Field(description="api: the server's base URL, e.g. https://api.openai.com/v1")
    api_key_env: str = Field(
        description="api: the environment variable that holds the key (the key itself never goes in params)",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    scoring: Literal["logprobs", "text", "judgment_tag"] = Field(
        description="api: logprobs (Betley et al.: the first token's top logprobs; numbers 0-100 must be single "
        "tokens, as for GPT-4o) or text (the parsed answer); a local judge scores exact probabilities. "
        "judgment_tag (api or local): the GSM8K filter's judge reasons, then gives its score in <judgment_answer> "
        "tags (App. D.4), greedy, up to the stage's judge_max_tokens"
    )
    concurrency: int = Field(description="api: requests in flight at once", ge=1, le=64)
    min_number_mass: float = Field(
        description="a score needs at least this probability on the integers 0-100 (Betley et al.: 0.25)", gt=0, le=1
    )
    cache_dir: str = Field(description="folder of the judgements cache (kept across runs: each call is paid once)")
