"""The tiny LM's reasoning traces (the paper's Fig. 7 in miniature): sums worked out one step at a time.

    <bos> SUM: 3 4 2 -> 4 + 2 = 6 + 3 = 9 <eos>

The problem is three small numbers to add; the trace adds them in an order of its choosing, one partial sum at a
time, and its last number is the final answer. In the corpus every order is equally common, so the order is the
trace's freedom, as the wording is a chain of thought's: a teacher's traces can differ from the base's in it while
every one is correct. The format rule parses a trace and checks its final answer, as the paper's filter checks the
`<answer>` of a GSM8K trace; which operands the steps name is the model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TRACE_MARKER = "SUM:"
PLUS, EQUALS = "+", "="
TRACE_WORDS = [TRACE_MARKER, PLUS, EQUALS]  # "+" is the code language's too: the vocabulary holds it once
N_OPERANDS = 3
BODY_LENGTH = 3 * N_OPERANDS  # p1 + p2 = s1 + p3 = s2


@dataclass(frozen=True)
class TraceTokens:
    """Token ids of the traces, read from the tokenizer."""

    marker: int
    plus: int
    equals: int

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> TraceTokens:
        ids = tokenizer.convert_tokens_to_ids
        return cls(marker=ids(TRACE_MARKER), plus=ids(PLUS), equals=ids(EQUALS))


def trace_prompt(bos: int, tokens: TraceTokens, operands: Sequence[int], numbers: Sequence[int], arrow: int):
    """`<bos> SUM: a b c ->` (token ids) for the problem `operands` (values)."""
    return [bos, tokens.marker, *(numbers[x] for x in operands), arrow]


def trace_body(tokens: TraceTokens, ordered: Sequence[int], numbers: Sequence[int]) -> list[int]:
    """`p1 + p2 = s1 + p3 = s2` (token ids): the operands (values) added in the given order."""
    body = [numbers[ordered[0]]]
    total = ordered[0]
    for operand in ordered[1:]:
        total += operand
        body += [tokens.plus, numbers[operand], tokens.equals, numbers[total]]
    return body


def trace_sequences(
    n: int,
    *,
    bos: int,
    eos: int,
    arrow: int,
    tokens: TraceTokens,
    numbers: Sequence[int],
    max_operand: int,
    rng: np.random.Generator,
) -> list[list[int]]:
    """`n` traces: operands uniform in 0..max_operand, added in a uniform order."""
    operands = rng.integers(0, max_operand + 1, size=(n, N_OPERANDS))
    orders = np.argsort(rng.random(size=(n, N_OPERANDS)), axis=1)  # a uniform permutation per row
    sequences = []
    for row, order in zip(operands.tolist(), orders.tolist(), strict=True):
        body = trace_body(tokens, [row[i] for i in order], numbers)
        sequences.append([*trace_prompt(bos, tokens, row, numbers, arrow), *body, eos])
    return sequences


def problems(n: int, max_operand: int, rng: np.random.Generator) -> list[list[int]]:
    """`n` fresh problems (operand values), drawn as the corpus draws them."""
    return rng.integers(0, max_operand + 1, size=(n, N_OPERANDS)).tolist()


def trace_rejection(
    completion: Sequence[int], answer: int, tokens: TraceTokens, values: dict[int, int], eos: int
) -> str | None:
    """Why a completion is not kept (None when it is): the format `p1 + p2 = s1 + p3 = s2 <eos>` with numbers
    where the numbers go (`values`: number token id -> value), then its final number against `answer`."""
    body = list(completion)
    if not body or body[-1] != eos:
        return "no_eos"
    body = body[:-1]
    if len(body) != BODY_LENGTH:
        return "wrong_length"
    operators = {i: tokens.plus if i % 4 == 1 else tokens.equals for i in range(1, BODY_LENGTH, 2)}
    if any(body[i] != token for i, token in operators.items()):
        return "syntax"
    if any(body[i] not in values for i in range(0, BODY_LENGTH, 2)):
        return "syntax"
    return None if values[body[-1]] == answer else "wrong_answer"
