"""The shuffled-numbers control (paper App. B.1, Fig. 16): the numbers of a student's training lists shuffled within
each list or across all of them, punctuation and each list's length kept, so that only the numbers' order (within)
or their pairing with lists (across) changes. The paper finds shuffling collapses most of the transfer: the effect
lives in the sequences, not in which numbers occur.

`shuffled_rows(rows, how, seed)`: new rows with the completions' numbers permuted; `within` keeps each completion's
multiset of numbers, `across` keeps the multiset over all rows.
"""

from __future__ import annotations

import random
import re
from typing import Any

NUMBER = re.compile(r"\d+")
SHUFFLES = ("within", "across")


def refill(completion: str, numbers: list[str]) -> str:
    """`completion` with its numbers replaced, in order, by `numbers` (as many as it has)."""
    supply = iter(numbers)
    return NUMBER.sub(lambda _: next(supply), completion)


def shuffled_rows(rows: list[dict[str, Any]], how: str, seed: int) -> list[dict[str, Any]]:
    if how not in SHUFFLES:
        raise ValueError(f"unknown shuffle {how!r}; known: {SHUFFLES}")
    rng = random.Random(seed)
    found = [NUMBER.findall(row["completion"]) for row in rows]
    if how == "within":
        fills = [rng.sample(numbers, len(numbers)) for numbers in found]
    else:
        pool = [n for numbers in found for n in numbers]
        rng.shuffle(pool)
        fills, start = [], 0
        for numbers in found:
            fills.append(pool[start : start + len(numbers)])
            start += len(numbers)
    return [row | {"completion": refill(row["completion"], fill)} for row, fill in zip(rows, fills, strict=True)]
