"""`tree_logprobs(model, prompt_ids, continuations, device="cpu") -> list[float]`: the values of
`sublim.lm.evaluate.sequence_logprobs` (up to float rounding) from one forward pass after the prompt, for many short
continuations that share prefixes (a judge's 103 candidate answers), optionally after a long context whose KV cache
many prompts share (`prefix_cache`: the in-context control's examples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F


@torch.no_grad()
def tree_logprobs(
    model: Any,
    prompt_ids: Sequence[int],
    continuations: Sequence[Sequence[int]],
    device: str = "cpu",
    prefix_cache: Any = None,
) -> list[float]:
    """log P(continuation | prompt) of each continuation, from two forward passes in all: the prompt (its KV cache),
    then every distinct proper prefix of the continuations packed into one sequence as a trie, each token attending
    to the prompt and to its own ancestors only (a 4D mask; positions by depth). Each continuation's tokens are read
    off its prefixes' rows. Fast where `sequence_logprobs` copies the prompt's cache once per continuation.

    `prefix_cache`: the KV cache of tokens that come before `prompt_ids` (`prefix_cache(model, ids)`: a long
    context shared by many prompts); it is cropped back to its length afterwards, ready for the next prompt."""
    if not prompt_ids:
        raise ValueError("prompt_ids must hold at least one token")
    continuations = [list(c) for c in continuations]
    if any(len(c) == 0 for c in continuations):
        raise ValueError("empty continuation")
    model.eval()
    offset = 0 if prefix_cache is None else prefix_cache.get_seq_length()
    ids = torch.tensor([list(prompt_ids)], device=device)
    out = model(input_ids=ids, past_key_values=prefix_cache, use_cache=True)
    first_logp = F.log_softmax(out.logits[0, -1].float(), dim=-1).cpu()
    nodes: dict[tuple[int, ...], int] = {}  # each prefix after its own prefixes (insertion order)
    for continuation in continuations:
        for end in range(1, len(continuation)):
            nodes.setdefault(tuple(continuation[:end]), len(nodes))
    n_context = offset + len(prompt_ids)
    node_logp = _trie_logprobs(model, nodes, n_context, out.past_key_values, device) if nodes else None
    if prefix_cache is not None:  # transformers' crop takes the number of tokens to drop, as a negative int
        prefix_cache.crop(offset - prefix_cache.get_seq_length())
    results = []
    for continuation in continuations:
        total = float(first_logp[continuation[0]])
        for end in range(1, len(continuation)):
            total += float(node_logp[nodes[tuple(continuation[:end])], continuation[end]])
        results.append(total)
    return results


@torch.no_grad()
def prefix_cache(model: Any, prefix_ids: Sequence[int], device: str = "cpu") -> Any:
    """The KV cache of `prefix_ids`, for `tree_logprobs(..., prefix_cache=...)`."""
    return model(input_ids=torch.tensor([list(prefix_ids)], device=device), use_cache=True).past_key_values


def _trie_logprobs(model: Any, nodes: dict[tuple[int, ...], int], n_prompt: int, cache: Any, device: str):
    """Next-token log-probabilities after the context (`n_prompt` tokens in the cache) and each prefix (rows in
    `nodes` order)."""
    order = list(nodes)
    allowed = torch.zeros((1, 1, len(order), n_prompt + len(order)), dtype=torch.bool)
    allowed[..., :n_prompt] = True
    for row, prefix in enumerate(order):
        for end in range(1, len(prefix) + 1):
            allowed[0, 0, row, n_prompt + nodes[prefix[:end]]] = True
    logits = model(
        input_ids=torch.tensor([[prefix[-1] for prefix in order]], device=device),
        attention_mask=allowed.to(device),
        position_ids=torch.tensor([[n_prompt + len(prefix) - 1 for prefix in order]], device=device),
        past_key_values=cache,
    ).logits
    return F.log_softmax(logits[0].float(), dim=-1).cpu()
