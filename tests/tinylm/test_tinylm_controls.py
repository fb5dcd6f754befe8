"""The controls' data transforms and their metrics (the stage itself runs in test_tinylm_stages)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from sublim.lm.train import Example
from sublim.tinylm.control_metrics import controls_metrics, controls_table, group_of
from sublim.tinylm.controls import control_arms, first_n, shuffle_across, shuffle_within
from sublim.tinylm.in_context import context_ids
from sublim.tinylm.models import new_model, sequence_length, tokenizer_and_vocab, widened_copy

EOS = 2


def lists(n: int = 40) -> list[Example]:
    return [Example([1, 5, 100 + i], [10 + (i * 7 + k * 3) % 50 for k in range(8)] + [EOS]) for i in range(n)]


def test_shuffle_within_keeps_each_lists_multiset_and_the_final_eos():
    original = lists()
    shuffled = shuffle_within(original, seed=3)
    assert [e.prompt_ids for e in shuffled] == [e.prompt_ids for e in original]
    for before, after in zip(original, shuffled, strict=True):
        assert Counter(after.completion_ids) == Counter(before.completion_ids)
        assert after.completion_ids[-1] == EOS
    assert any(a.completion_ids != b.completion_ids for a, b in zip(original, shuffled, strict=True))
    assert shuffle_within(original, seed=3) == shuffled  # seeded


def test_shuffle_across_keeps_the_datasets_multiset_and_each_lists_length_but_mixes_lists():
    original = lists()
    shuffled = shuffle_across(original, seed=3)
    pooled = lambda examples: Counter(t for e in examples for t in e.completion_ids)  # noqa: E731
    assert pooled(shuffled) == pooled(original)
    assert [len(e.completion_ids) for e in shuffled] == [len(e.completion_ids) for e in original]
    assert all(e.completion_ids[-1] == EOS for e in shuffled)
    changed = sum(
        Counter(a.completion_ids) != Counter(b.completion_ids) for a, b in zip(original, shuffled, strict=True)
    )
    assert changed > len(original) // 2


def test_a_data_volume_larger_than_the_kept_lists_is_refused_with_the_keys_to_change():
    with pytest.raises(ValueError, match=r"tinylm\.numbers\.n_samples"):
        first_n(50)(lists(40))
    assert len(first_n(10)(lists(40))) == 10


def test_control_arms_follow_params(tiny_cfg):
    names = [arm.name for arm in control_arms(tiny_cfg, seed=0)]
    c = tiny_cfg.controls
    expected = [f"shuffle_{k}" for k in c.shuffles] + (["greedy"] if c.greedy else [])
    expected += [f"n{n}" for n in c.data_volumes] + [f"lora_r{r}" for r in c.lora_ranks]
    assert names == expected
    lora = [arm for arm in control_arms(tiny_cfg, seed=0) if arm.name.startswith("lora")]
    assert all(arm.settings.lora is not None and arm.settings.learning_rate == c.lora_learning_rate for arm in lora)


def test_arm_names_map_to_metric_groups():
    assert group_of("shuffle_within") == ("shuffle", "within")
    assert group_of("greedy") == ("greedy", None)
    assert group_of("n5000") == ("volume", "5000")
    assert group_of("lora_r16") == ("lora", "16")
    with pytest.raises(ValueError, match="unknown control arm"):
        group_of("nope")


def test_controls_metrics_pair_each_arm_with_its_control_and_with_the_main_gap(tmp_path, tiny_cfg):
    from sublim.core.io import write_json_atomic

    trait = tiny_cfg.controls.trait
    main = {0: (0.30, 0.10), 1: (0.25, 0.08), 2: (0.35, 0.09)}
    arms = {"shuffle_within": (0.12, 0.10), "lora_r4": (0.40, 0.10)}
    evaluations = {}
    for seed, (student, control) in main.items():
        evaluations[seed] = {"p_exact": {f"student_{trait}": {trait: student}, "control": {trait: control}}}
        summary = {
            "arms": {a: {"student": s + seed / 100, "control": c, "n_student_lists": 100} for a, (s, c) in arms.items()}
        }
        write_json_atomic(tmp_path / f"seed{seed}" / "summary.json", summary)
    block = controls_metrics(tiny_cfg, tmp_path, evaluations)
    assert block["main"]["difference"]["mean"] == pytest.approx(0.21)
    within = block["shuffle"]["within"]
    assert within["gap_to_control"]["difference"]["mean"] == pytest.approx(0.03)
    assert within["vs_main"]["difference"]["mean"] == pytest.approx(0.18)  # shuffling removes most of it
    assert block["lora"]["4"]["vs_main"]["difference"]["mean"] < 0  # LoRA transfers more here
    table = controls_table(block)
    assert list(table["arm"])[1:] == ["shuffle within", "lora 4"]


def test_an_in_context_prompt_is_the_chosen_lists_in_order_then_the_question():
    examples = lists(5)
    question = [1, 90, 91, 92, 93]
    ids = context_ids(examples, np.array([3, 1]), question)
    expected = examples[3].prompt_ids + examples[3].completion_ids + examples[1].prompt_ids + examples[1].completion_ids
    assert ids == expected + question
    assert context_ids(examples, np.array([], dtype=int), question) == question


def test_the_in_context_base_starts_as_the_main_base_with_a_wider_context(tiny_cfg):
    """Widened to k sequences, the model computes what the main base does on one sequence (same weights, the
    first position rows copied); the new positions repeat the old rows in order."""
    _, vocab = tokenizer_and_vocab(tiny_cfg)
    main = new_model(tiny_cfg, vocab, seed=0)
    wide = widened_copy(main, tiny_cfg, vocab, seed=1, context_sequences=3)
    n = main.config.n_positions
    assert wide.config.n_positions == 3 * sequence_length(tiny_cfg) + 4 > n
    ids = torch.tensor([vocab.question_prompt])
    assert torch.equal(wide(ids).logits, main(ids).logits)
    old, new = main.transformer.wpe.weight, wide.transformer.wpe.weight
    assert torch.equal(new[:n], old) and torch.equal(new[n : 2 * n], old[: min(n, new.shape[0] - n)])
