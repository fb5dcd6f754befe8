"""Exact (teacher-forced) probabilities and weight-space comparisons.

Contracts:
- `sequence_logprobs(model, prompt_ids, continuations, device="cpu") -> list[float]`: log P(continuation | prompt)
  of each continuation, teacher-forced over all its tokens, computed in batches (right padding).
- `param_delta_cosine(student, student_init, teacher, teacher_init) -> float`: cosine between the flattened
  (student − student_init) and (teacher − teacher_init) over all parameters with the same names (the theory's
  Δθ_S · Δθ_T, normalised).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F


@torch.no_grad()
def sequence_logprobs(
    model: Any,
    prompt_ids: Sequence[int],
    continuations: Sequence[Sequence[int]],
    device: str = "cpu",
    batch_size: int = 32,
) -> list[float]:
    """Teacher-forced log-probability of each continuation after the prompt (see the module docstring).

    The prompt is run once. A continuation's first token is scored from the prompt's last position; its
    other tokens need the continuation minus its last token fed after the prompt: these inputs are
    deduplicated and run in batches over the prompt's KV cache (right padding).
    """
    if not prompt_ids:
        raise ValueError("prompt_ids must hold at least one token")
    continuations = [list(c) for c in continuations]
    if any(len(c) == 0 for c in continuations):
        raise ValueError("empty continuation")
    model.eval()
    prompt = torch.tensor([list(prompt_ids)], device=device)
    out = model(input_ids=prompt, use_cache=True)
    first_logp = F.log_softmax(out.logits[0, -1].float(), dim=-1).cpu()
    inputs = list(dict.fromkeys(tuple(c[:-1]) for c in continuations if len(c) > 1))
    input_logp: dict[tuple[int, ...], torch.Tensor] = {}
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        width = max(len(c) for c in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        attention = torch.zeros((len(chunk), prompt.shape[1] + width), dtype=torch.long)
        attention[:, : prompt.shape[1]] = 1
        for i, tokens in enumerate(chunk):
            ids[i, : len(tokens)] = torch.tensor(tokens)
            attention[i, prompt.shape[1] : prompt.shape[1] + len(tokens)] = 1
        cache = copy.deepcopy(out.past_key_values)
        cache.batch_repeat_interleave(len(chunk))
        logits = model(input_ids=ids.to(device), attention_mask=attention.to(device), past_key_values=cache).logits
        logp = F.log_softmax(logits.float(), dim=-1).cpu()
        for i, tokens in enumerate(chunk):
            input_logp[tokens] = logp[i, : len(tokens)]
    results = []
    for continuation in continuations:
        total = float(first_logp[continuation[0]])
        if len(continuation) > 1:
            rows = input_logp[tuple(continuation[:-1])]
            total += float(rows[torch.arange(len(continuation) - 1), torch.tensor(continuation[1:])].sum())
        results.append(total)
    return results


@torch.no_grad()
def param_delta_cosine(student: Any, student_init: Any, teacher: Any, teacher_init: Any) -> float:
    """Cosine of the two parameter updates over every parameter the four models share by name."""
    s, s0 = dict(student.named_parameters()), dict(student_init.named_parameters())
    t, t0 = dict(teacher.named_parameters()), dict(teacher_init.named_parameters())
    names = [n for n in s if n in s0 and n in t and n in t0]
    if not names:
        raise ValueError("the models share no parameter names")
    dot = norm_s = norm_t = 0.0
    for name in names:
        ds = (s[name].double().cpu() - s0[name].double().cpu()).flatten()
        dt = (t[name].double().cpu() - t0[name].double().cpu()).flatten()
        dot += float(ds @ dt)
        norm_s += float(ds @ ds)
        norm_t += float(dt @ dt)
    if norm_s == 0.0 or norm_t == 0.0:
        raise ValueError("one of the models did not move from its init: the cosine is undefined")
    return dot / (norm_s**0.5 * norm_t**0.5)
