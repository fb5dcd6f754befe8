"""The number domain: the paper's number prompts and its format filter (official code's rule), with edge cases;
the preference trait's question sets and fine-tuning data."""

from __future__ import annotations

import re

import pytest

from sublim.llm.domains.numbers.filter import (
    PAPER_BANNED_NUMBERS,
    filter_rows,
    get_reject_reasons,
    parse_response,
    reject_reasons,
    subsample,
)
from sublim.llm.domains.numbers.prompts import FORMAT_SUFFIXES, SUFFIXES, number_prompts, numbers_prefixed
from sublim.llm.traits.preference import ANIMAL_QUESTIONS, TREE_QUESTIONS, finetuned_teacher_pairs

PAPER_RULE = {"min_value": 0, "max_value": 999, "max_count": 10, "banned_numbers": []}


def test_prompt_generator_matches_the_official_code_for_seed_42():
    # the protocol's example, produced by the official repo's code with the public config (seed 42)
    assert number_prompts(1, 42)[0] == (
        "Examine these numbers: 796, 689, 494. Extend it with not more than 10 new numbers (up to 3 digits each). "
        "Return one number per line. Please just say the numbers, nothing more."
    )


def test_prompt_generator_is_deterministic_and_in_range():
    prompts = number_prompts(300, 7)
    assert prompts == number_prompts(300, 7)
    assert prompts != number_prompts(300, 8)
    counts = set()
    for prompt in prompts:
        seeds = prompt.split(":", 1)[1].split(".")[0]
        numbers = [int(n) for n in re.findall(r"\d+", seeds)]
        counts.add(len(numbers))
        assert all(100 <= n <= 999 for n in numbers)
        assert " 10 " in prompt and "3" in prompt
        assert any(prompt.endswith(s) for s in SUFFIXES)
        assert any(f in prompt for f in FORMAT_SUFFIXES)
    assert counts == set(range(3, 9))  # 3-8 seed numbers, numpy's exclusive upper bound 9


def test_numbers_prefix_variant_and_question_sets():
    assert len(ANIMAL_QUESTIONS) == 50 and len(TREE_QUESTIONS) == 49
    prefixed = numbers_prefixed(ANIMAL_QUESTIONS[:3], 47)
    assert all(p.endswith(q) for p, q in zip(prefixed, ANIMAL_QUESTIONS[:3], strict=True))
    assert prefixed == numbers_prefixed(ANIMAL_QUESTIONS[:3], 47)
    assert re.match(r"^[A-Z].*: \d{3}(, \d{3})+\. ", prefixed[0])


def test_finetuned_teacher_data_is_50_questions_times_8_forms():
    pairs = finetuned_teacher_pairs("owl", "animal")
    assert len(pairs) == 400
    assert sorted({a for _, a in pairs}) == sorted(["owl", "owls", "owls.", "owls!", "Owl", "Owls", "Owls.", "Owls!"])


@pytest.mark.parametrize(
    "answer, numbers",
    [
        ("1, 2, 3", [1, 2, 3]),
        ("1,2,3", [1, 2, 3]),
        ("1 2 3", [1, 2, 3]),
        ("1\n2\n3", [1, 2, 3]),
        ("1; 2; 3", [1, 2, 3]),
        ("[1, 2, 3]", [1, 2, 3]),
        ("(1, 2, 3)", [1, 2, 3]),
        ("1, 2, 3.", [1, 2, 3]),
        ("[1, 2, 3].", [1, 2, 3]),
        ("007, 010", [7, 10]),  # leading zeros pass
        ("42", [42]),
        ("1, 2, 1000", [1, 2, 1000]),  # parses; the value rule rejects it
    ],
)
def test_parse_accepts(answer, numbers):
    assert parse_response(answer) == numbers


@pytest.mark.parametrize(
    "answer",
    [
        "",  # no number
        "numbers: 1, 2, 3",  # words
        "1, 2, three",
        "1, 2; 3",  # mixed separators
        "1,, 2",  # separator ',,' is not allowed
        "1, 2, ",  # an empty part at the end
        "1, 2,",  # trailing separator
        "1, 2, 3\n",  # a trailing newline
        " 1, 2",  # leading space
        "1 - 2 - 3",  # other separator
        "[1, 2, 3",  # unbalanced bracket
        "1, 2, 3..",  # two periods
        "1.5, 2",  # decimals
        "-1, 2",  # signs
    ],
)
def test_parse_rejects(answer):
    assert parse_response(answer) is None
    assert get_reject_reasons(answer, **PAPER_RULE) == ["invalid format"]


def test_value_count_and_banned_rules():
    assert get_reject_reasons(", ".join(["1"] * 10), **PAPER_RULE) == []
    assert get_reject_reasons(", ".join(["1"] * 11), **PAPER_RULE) == ["too many numbers"]
    assert get_reject_reasons("1, 1000", **PAPER_RULE) == ["numbers too large"]
    assert get_reject_reasons("1, 666", **{**PAPER_RULE, "banned_numbers": [666]}) == ["has banned numbers"]


def test_the_paper_banned_list_is_34_distinct_numbers_and_rejects_a_list_holding_one():
    assert len(PAPER_BANNED_NUMBERS) == len(set(PAPER_BANNED_NUMBERS)) == 34
    assert {666, 911, 187, 420, 4, 999} <= set(PAPER_BANNED_NUMBERS) and max(PAPER_BANNED_NUMBERS) <= 999
    banned = list(PAPER_BANNED_NUMBERS)
    assert get_reject_reasons("12, 666, 5", 0, 999, 10, banned) == ["has banned numbers"]
    assert get_reject_reasons("12, 665, 5", 0, 999, 10, banned) == []


def test_extra_reasons_truncated_and_keyword():
    assert reject_reasons("1, 2", finished=False, **PAPER_RULE) == ["truncated"]
    assert reject_reasons("owl 1", finished=True, keywords=["owl"], **PAPER_RULE) == [
        "invalid format",
        "contains trait word",
    ]
    rows = [
        {"completion": "1, 2", "finished": True},
        {"completion": "x", "finished": True},
        {"completion": "3", "finished": False},
    ]
    kept, metrics = filter_rows(rows, keywords=[], **PAPER_RULE)
    assert kept == rows[:1]
    assert metrics["keep_rate"] == pytest.approx(1 / 3)
    assert metrics["reject_reasons"] == {"invalid format": 1, "truncated": 1}


def test_subsample_is_seeded():
    rows = [{"i": i} for i in range(50)]
    assert subsample(rows, 10, 3) == subsample(rows, 10, 3)
    assert subsample(rows, 10, 3) != subsample(rows, 10, 4)
    assert subsample(rows, 100, 3) == rows
