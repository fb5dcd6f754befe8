"""Batched, seeded sampling from a causal LM, with every sampling setting explicit.

Contract:
`sample(model, prompts, *, max_new_tokens, temperature, batch_size, seed, eos_token_id, pad_token_id,
logits_processor=None, device="cpu", first_index=0, top_p=1.0, top_k=0, repetition_penalty=1.0)
-> list[list[int]]`
returns each prompt's completion as token ids (the eos token included when it was produced, nothing after it).
Prompts are batched with left padding and decoded with the KV cache by `model.generate`; temperature 0 means
greedy. The defaults are the official code's (vLLM's): pure sampling at `temperature`, no top-p (1.0), no top-k
(0), no repetition penalty (1.0).

Nothing is read from the model's `generation_config.json`: transformers fills every setting a call leaves unset
from it (Qwen2.5's sets `repetition_penalty=1.05`, `top_k=20`, `top_p=0.8`, which would bend the teacher's
number distribution, where the hidden signal lives). So each call passes a complete `GenerationConfig`
(`generation_config`) and swaps the model's own for a blank one while it runs.

Each batch re-seeds torch with (seed, index of its first prompt), so the same call gives the same output, and a
resumed run that calls `sample` on the remaining batches gives what the uninterrupted run would have given.
`logits_processor` is a factory: called with the padded prompt length, it returns a `LogitsProcessor`
(or None) for that batch, e.g. the number-list grammar of `sublim.lm.chat`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import GenerationConfig, LogitsProcessorList

from sublim.core.seeds import derive_seed

LogitsProcessorFactory = Callable[[int], Any]


@dataclass(frozen=True)
class Sampling:
    """The sampling settings a caller chooses (from params); every other setting is neutral."""

    temperature: float
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    repetition_penalty: float = 1.0  # 1.0: off


def generation_config(
    sampling: Sampling, *, max_new_tokens: int, eos_token_id: int, pad_token_id: int
) -> GenerationConfig:
    """A complete config: the chosen settings, and every other logits-changing setting set to off."""
    sample = sampling.temperature > 0
    # greedy decoding (temperature 0) uses no sampling setting: leaving them unset keeps transformers quiet
    chosen = {"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": sampling.top_k} if sample else {}
    return GenerationConfig(
        do_sample=sample,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        min_new_tokens=0,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        use_cache=True,
        repetition_penalty=sampling.repetition_penalty,
        no_repeat_ngram_size=0,
        encoder_repetition_penalty=1.0,
        typical_p=1.0,
        epsilon_cutoff=0.0,
        eta_cutoff=0.0,
        length_penalty=1.0,
        renormalize_logits=False,
        remove_invalid_values=False,
        **chosen,
    )


@contextmanager
def own_generation_config(model: Any) -> Iterator[None]:
    """While it runs, the model's generation config is blank, so generate() can fill nothing in from it."""
    saved = getattr(model, "generation_config", None)
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = saved


def left_pad(prompts: Sequence[Sequence[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError("empty prompt: give at least one token (e.g. bos)")
        input_ids[i, width - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
        attention[i, width - len(prompt) :] = 1
    return input_ids, attention


def cut_at_eos(tokens: list[int], eos_token_id: int) -> list[int]:
    return tokens[: tokens.index(eos_token_id) + 1] if eos_token_id in tokens else tokens


@torch.no_grad()
def sample_batch(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    config: GenerationConfig,
    seed: int,
    logits_processor: LogitsProcessorFactory | None = None,
    device: str = "cpu",
) -> list[list[int]]:
    input_ids, attention = left_pad(prompts, config.pad_token_id)
    processors = LogitsProcessorList()
    if logits_processor is not None:
        processor = logits_processor(input_ids.shape[1])
        if processor is not None:
            processors.append(processor)
    torch.manual_seed(seed)
    with own_generation_config(model):
        output = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention.to(device),
            generation_config=config,
            logits_processor=processors,
        )
    new = output[:, input_ids.shape[1] :].tolist()
    return [cut_at_eos(tokens, config.eos_token_id) for tokens in new]


def sample(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    batch_size: int,
    seed: int,
    eos_token_id: int,
    pad_token_id: int,
    logits_processor: LogitsProcessorFactory | None = None,
    device: str = "cpu",
    first_index: int = 0,
    top_p: float = 1.0,
    top_k: int = 0,
    repetition_penalty: float = 1.0,
) -> list[list[int]]:
    """Completions for every prompt (see the module docstring). `first_index` is the index of `prompts[0]`
    in the full prompt list, for callers that resume part-way (batches keep their seeds)."""
    model.eval()
    config = generation_config(
        Sampling(temperature, top_p, top_k, repetition_penalty),
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
    )
    completions: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        completions += sample_batch(
            model,
            prompts[start : start + batch_size],
            config=config,
            seed=derive_seed(seed, "batch", first_index + start),
            logits_processor=logits_processor,
            device=device,
        )
    return completions
