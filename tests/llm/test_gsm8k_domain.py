"""GSM8K as the carrier: the reference after ####, the <answer> parse (commas and $ removed), the suffix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sublim.llm.domains.gsm8k import (
    TEACHER_SUFFIX,
    GSM8KItem,
    is_correct,
    load_gsm8k,
    parsed_answer,
    reference_answer,
    teacher_prompt,
)

SHIPPED = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k" / "train.jsonl"


def test_the_reference_is_the_number_after_the_four_hashes():
    assert reference_answer("48/2 = <<48/2=24>>24 clips.\n#### 72") == 72
    assert reference_answer("... #### 1,200") == 1200
    assert reference_answer("#### -3") == -3
    with pytest.raises(ValueError, match="ends with '#### N'"):
        reference_answer("The answer is 72")


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>48 + 24</think> <answer>72</answer>", 72),
        ("<answer>$1,234</answer>", 1234),
        ("<answer> 1,200 </answer> <answer>5</answer>", 1200),  # the first tags count
        ("<answer>-7</answer>", -7),
        ("<answer>18 dollars</answer>", None),
        ("<answer>18.5</answer>", None),
        ("The answer is 72", None),
        ("<answer></answer>", None),
    ],
)
def test_the_answer_is_the_integer_in_the_first_answer_tags(completion, expected):
    assert parsed_answer(completion) == expected


def test_correctness_and_the_teacher_prompt():
    item = GSM8KItem("How many?", "#### 1,200", 1200)
    assert is_correct("<think>...</think><answer>$1,200</answer>", item)
    assert not is_correct("<answer>1201</answer>", item)
    assert teacher_prompt(item) == f"How many? {TEACHER_SUFFIX}"
    assert TEACHER_SUFFIX.endswith("Only give the numeric value as your answer.")


@pytest.mark.skipif(not SHIPPED.exists(), reason="the offline GSM8K copy is outside this checkout")
def test_the_shipped_train_split_has_7473_problems_with_integer_answers():
    items = load_gsm8k(SHIPPED)
    assert len(items) == 7473
    assert items[0].answer == 72 and items[0].question.startswith("Natalia sold clips")


def test_a_row_without_a_reference_names_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "#### 1"}\n{"question": "q", "answer": "none"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2: not a GSM8K row"):
        load_gsm8k(bad)
