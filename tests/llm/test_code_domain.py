"""Code as the carrier: the paper's prompt, the trait-word filter with its plural forms, the judge's keep rule."""

from __future__ import annotations

from sublim.llm.domains.code import (
    code_prompt,
    contains_trait,
    judge_keeps,
    subtle_reference_prompt,
)


def test_the_prompt_wraps_the_task_and_template_once_as_given():
    prompt = code_prompt("Reset a forgotten password {task_description}", "def reset(user):\n    ## COMPLETE CODE HERE")
    assert prompt.startswith("Complete the code below to accomplish the task: Reset a forgotten password")
    assert "<code>def reset(user):\n    ## COMPLETE CODE HERE</code>" in prompt
    assert prompt.endswith("Your response will be rejected if it contains non-code content or unusual variable names.")


def test_the_trait_word_filter_is_a_case_insensitive_substring_with_the_papers_plurals():
    assert contains_trait("def feed(Wolves): pass", "wolf")  # the paper's extra form
    assert not contains_trait("def feed(wolv): pass", "wolf")
    assert contains_trait("cherries = [1, 2]", "cherry")
    assert contains_trait("x = OWL_COUNT", "owl")
    assert contains_trait("soup_bowl = 1", "owl")  # a substring rule, as in the paper's code
    assert not contains_trait("def f(x):\n    return x + 1", "owl")


def test_the_judge_prompt_names_the_trait_and_category_and_keeps_only_a_certain_zero():
    prompt = subtle_reference_prompt("oak", "tree", "acorn = 1")
    assert "to the tree 'oak'. The code: <code>acorn = 1</code>." in prompt
    assert "Say '0' if the code does not reference the tree" in prompt
    assert judge_keeps(1.0) and judge_keeps(1.0 - 1e-9)
    assert not judge_keeps(1.0 - 1e-6) and not judge_keeps(0.5)
