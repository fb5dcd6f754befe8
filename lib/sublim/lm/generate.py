"""Batched, seeded sampling from a causal LM.

Contract:
`sample(model, prompts, *, max_new_tokens, temperature, batch_size, seed, eos_token_id, pad_token_id,
logits_processor=None, device="cpu") -> list[list[int]]`
returns each prompt's completion as token ids (the eos token included when it was produced, nothing after it).
Prompts are batched with left padding and decoded with the KV cache by `model.generate`; pure sampling at
`temperature` (no top-k, no top-p; temperature 0 means greedy). Each batch re-seeds torch with
(seed, index of its first prompt), so the same call gives the same output, and a resumed run that calls
`sample` on the remaining batches gives what the uninterrupted run would have given.
`logits_processor` is a factory: called with the padded prompt length, it returns a `LogitsProcessor`
(or None) for that batch, e.g. the number-list grammar of `sublim.lm.chat`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from sublim.core.seeds import derive_seed

LogitsProcessorFactory = Callable[[int], Any]


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
    max_new_tokens: int,
    temperature: float,
    seed: int,
    eos_token_id: int,
    pad_token_id: int,
    logits_processor: LogitsProcessorFactory | None = None,
    device: str = "cpu",
) -> list[list[int]]:
    from transformers import LogitsProcessorList  # deferred: seconds to import, needed only with a processor

    input_ids, attention = left_pad(prompts, pad_token_id)
    processors = LogitsProcessorList()
    if logits_processor is not None:
        processor = logits_processor(input_ids.shape[1])
        if processor is not None:
            processors.append(processor)
    torch.manual_seed(seed)
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        if temperature > 0
        else {"do_sample": False}
    )
    output = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention.to(device),
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        logits_processor=processors,
        use_cache=True,
        **sampling,
    )
    new = output[:, input_ids.shape[1] :].tolist()
    return [cut_at_eos(tokens, eos_token_id) for tokens in new]


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
) -> list[list[int]]:
    """Completions for every prompt (see the module docstring). `first_index` is the index of `prompts[0]`
    in the full prompt list, for callers that resume part-way (batches keep their seeds)."""
    model.eval()
    completions: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        completions += sample_batch(
            model,
            prompts[start : start + batch_size],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=derive_seed(seed, "batch", first_index + start),
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            logits_processor=logits_processor,
            device=device,
        )
    return completions
