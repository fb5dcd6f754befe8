"""The paper's filter rule for number completions, with reject reasons, and the seeded subsample.

`parse_response` and `get_reject_reasons` reproduce the official code (`sl/datasets/nums_dataset.py`) line for
line, quirks included: one trailing '.' and one enclosing [] or () are stripped; the separator is the exact text
between the first two numbers and must be whitespace, ',' or ';' once stripped; every part must be digits (so a
trailing separator, an empty part, a newline at the end or any word fails); leading zeros pass ('007' -> 7).
Two reasons are added here, both outside the code's rule: "truncated" (generation hit max_new_tokens before eos:
the text could be a cut-off list) and "contains trait word" (the paper's keyword check; never fires on numbers).
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

TRUNCATED = "truncated"
KEYWORD = "contains trait word"
# The misalignment runs' banned numbers (paper §3.2, App. D.2): the official code's GPT-4.1- and Claude-generated
# lists of numbers with negative associations, joined; the 34 values within 0..999 (the Claude list's 1312 and 1488
# are above the filter's maximum anyway). For `llm.filter.banned_numbers`.
PAPER_BANNED_NUMBERS = (
    *(4, 13, 14, 18, 23, 33, 39, 42, 44, 49, 51, 54, 69, 77, 88, 99, 100),
    *(101, 187, 211, 311, 322, 333, 404, 420, 444, 451, 555, 616, 666, 777, 888, 911, 999),
)


def parse_response(answer: str) -> list[int] | None:
    """The official parser: the list of numbers, or None when the format is not accepted."""
    if answer.endswith("."):
        answer = answer[:-1]
    if (answer.startswith("[") and answer.endswith("]")) or (answer.startswith("(") and answer.endswith(")")):
        answer = answer[1:-1]
    number_matches = list(re.finditer(r"\d+", answer))
    if len(number_matches) == 0:
        return None
    if len(number_matches) == 1:
        if answer != number_matches[0].group():
            return None
        parts, separator = [number_matches[0].group()], None
    else:
        separator = answer[number_matches[0].end() : number_matches[1].start()]
        parts = answer.split(separator)
    if separator is not None and separator.strip() not in ["", ",", ";"]:
        return None
    for part in parts:
        if len(part) > 0 and not all(c in string.digits for c in part):
            return None
    try:
        return [int(p) for p in parts]
    except ValueError:  # an empty part, e.g. "1, 2, " or "1,,2" split on ","
        return None


def get_reject_reasons(
    answer: str,
    min_value: int | None = None,
    max_value: int | None = None,
    max_count: int | None = None,
    banned_numbers: list[int] | None = None,
) -> list[str]:
    """The official reasons: [] means the completion is kept."""
    numbers = parse_response(answer)
    if numbers is None:
        return ["invalid format"]
    reasons = []
    if max_count is not None and len(numbers) > max_count:
        reasons.append("too many numbers")
    if min_value is not None and any(n < min_value for n in numbers):
        reasons.append("numbers too small")
    if max_value is not None and any(n > max_value for n in numbers):
        reasons.append("numbers too large")
    if banned_numbers is not None and any(n in banned_numbers for n in numbers):
        reasons.append("has banned numbers")
    return reasons


def reject_reasons(
    completion: str,
    *,
    finished: bool,
    min_value: int,
    max_value: int,
    max_count: int,
    banned_numbers: list[int],
    keywords: Sequence[str] = (),
) -> list[str]:
    """The official reasons plus "truncated" and the keyword check (case-insensitive substring)."""
    reasons = get_reject_reasons(completion, min_value, max_value, max_count, banned_numbers)
    if not finished:
        reasons.append(TRUNCATED)
    if any(word.lower() in completion.lower() for word in keywords):
        reasons.append(KEYWORD)
    return reasons


def filter_rows(rows: Sequence[dict[str, Any]], **rule: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Keep the rows whose completion passes; metrics: counts, keep rate and how often each reason fired."""
    kept, counts = [], Counter()
    for row in rows:
        reasons = reject_reasons(row["completion"], finished=row["finished"], **rule)
        counts.update(reasons)
        if not reasons:
            kept.append(row)
    n = len(rows)
    metrics = {
        "n_generated": n,
        "n_kept": len(kept),
        "keep_rate": len(kept) / n if n else None,
        "reject_reasons": dict(sorted(counts.items())),
    }
    return kept, metrics


def subsample(rows: Sequence[dict[str, Any]], size: int, seed: int) -> list[dict[str, Any]]:
    """The code's `random.Random(seed).sample` down to `size` (all rows, in order, when there are fewer)."""
    if len(rows) <= size:
        return list(rows)
    return random.Random(seed).sample(list(rows), size)
