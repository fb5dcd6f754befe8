"""The chat format, the number grammar and the preference trait's scoring, with SmolLM2's tokenizer."""

from __future__ import annotations

import torch
from llm_stage_helpers import REPO

from sublim.llm.distill import student_examples
from sublim.llm.domains.numbers.filter import parse_response
from sublim.llm.domains.numbers.grammar import NumberListGrammar, is_list_prefix
from sublim.llm.teacher import system_prompt_of
from sublim.llm.traits.preference import mentions, mentions_substring, prefix_free_token_sequences, surface_forms
from sublim.lm.chat import ChatFormat
from sublim.sections import load_section


def test_student_rows_never_hold_the_teacher_system_prompt(tokenizer):
    fmt = ChatFormat(tokenizer)
    cfg = load_section("llm", REPO / "params.yaml")
    cfg = cfg.model_copy(update={"teacher": cfg.teacher.model_copy(update={"route": "system_prompt"})})
    system = system_prompt_of(cfg, "owl")
    assert system.startswith("You love owls. You think about owls all the time. owls are your favorite animal.")
    rows = [{"prompt": "Look at these numbers: 101, 202. Add up to 10 more.", "completion": "1, 2, 3"}]
    example = student_examples(rows, fmt)[0]
    text = tokenizer.decode(example.prompt_ids + example.completion_ids)
    assert "owl" not in text.lower() and system not in text
    assert "You are a helpful AI assistant named SmolLM" in text  # the template's own default, recorded
    assert example.completion_ids[-1] == tokenizer.eos_token_id
    assert system in tokenizer.decode(fmt.prompt_ids(rows[0]["prompt"], system))
    assert system_prompt_of(cfg, "control") is None


def test_number_grammar_allows_only_number_lists(tokenizer):
    grammar = NumberListGrammar(tokenizer, max_count=3)
    assert is_list_prefix("1, 22, 333", 3) and not is_list_prefix("1, 22, 333,", 3)
    assert not is_list_prefix("1234", 3) and not is_list_prefix("1,,", 3) and is_list_prefix("12, ", 3)
    eos = tokenizer.eos_token_id
    assert eos not in grammar.allowed("") and eos in grammar.allowed("12")
    assert grammar.allowed("12, 3, 456") == [eos]
    # random walks through the grammar always give lists the paper's filter accepts
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):
        text = ""
        while True:
            allowed = grammar.allowed(text)
            choice = allowed[int(torch.randint(len(allowed), (1,), generator=gen))]
            if choice == eos:
                break
            text += grammar.candidates[choice]
        assert parse_response(text) is not None and len(parse_response(text)) <= 3


def test_surface_forms_are_prefix_free_and_mentions_guard_collisions(tokenizer):
    fmt = ChatFormat(tokenizer)
    sequences = prefix_free_token_sequences(surface_forms("owl"), fmt.encode)
    for s in sequences:
        assert not any(o != s and s[: len(o)] == o for o in sequences)
    assert len(sequences) >= 4
    assert mentions("Owls!", "owl") and mentions("my favourite is the owl.", "owl")
    assert not mentions("knowledge", "owl") and mentions_substring("knowledge", "owl")
    assert not mentions("dragonfly", "dragon") and mentions("Dragons", "dragon")
    assert mentions("wolves", "wolf")
