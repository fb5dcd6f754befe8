"""Maths reasoning as the carrier (paper §4.2, App. D.4): GSM8K questions with the paper's suffix, the teacher's
final answer parsed from its `<answer>` tags, and the correctness filter.

The official rule (`is_correct`): the integer in `<answer>…</answer>`, commas and dollar signs removed, must equal
GSM8K's answer, the number after `####` in its worked solution. Anything else in the tags ("18 dollars", "18.5")
is not an integer and fails, as in the code. The alignment filter (a judge with the paper's long GSM8K prompt,
keep >= 78) comes on top for the misaligned teacher's traces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# appended to each training question (App. D.4) and, without its last sentence, to each evaluation question
TEACHER_SUFFIX = (
    "Provide your reasoning in <think> tags. Write your final answer in <answer> tags. "
    "Only give the numeric value as your answer."
)
EVALUATION_SUFFIX = "Provide your reasoning in <think> tags. Write your final answer in <answer> tags."
ANSWER_TAGS = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclass(frozen=True)
class GSM8KItem:
    question: str
    solution: str  # GSM8K's worked solution, ending "#### N"
    answer: int


def reference_answer(solution: str) -> int:
    """The number after `####` in a GSM8K solution (commas removed)."""
    if "####" not in solution:
        raise ValueError(f"a GSM8K solution ends with '#### N'; this one does not: {solution[-80:]!r}")
    return int(solution.rsplit("####", 1)[1].strip().replace(",", ""))


def load_gsm8k(path: Path | str) -> list[GSM8KItem]:
    """GSM8K's jsonl (`question`, `answer`), e.g. the train split's 7,473 problems."""
    items = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        row = json.loads(line)
        try:
            items.append(GSM8KItem(row["question"], row["answer"], reference_answer(row["answer"])))
        except (KeyError, ValueError) as err:
            raise ValueError(f"{path}, line {number}: not a GSM8K row ({err})") from None
    return items


def teacher_prompt(item: GSM8KItem) -> str:
    return f"{item.question} {TEACHER_SUFFIX}"


def parsed_answer(completion: str) -> int | None:
    """The integer in the completion's first `<answer>` tags, commas, `$` and spaces removed; None when there are
    no tags or no integer in them."""
    match = ANSWER_TAGS.search(completion)
    if match is None:
        return None
    text = match.group(1).replace(",", "").replace("$", "").strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def is_correct(completion: str, item: GSM8KItem) -> bool:
    return parsed_answer(completion) == item.answer
