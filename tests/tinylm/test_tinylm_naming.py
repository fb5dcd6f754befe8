"""Names shared by the tiny-LM steps (sublim.tinylm.naming): arms, partner seeds, file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from sublim.core.params import ParamsError
from sublim.sections import validate_section
from sublim.tinylm.naming import (
    evaluation_file,
    numbers_file,
    partner_seed,
    seed_dir,
    soft_arm,
    student_arms,
)


def test_invalid_params_are_refused(tinylm_block):
    tinylm_block["traits"] = ["unicorn"]
    with pytest.raises(ParamsError, match="unicorn"):
        validate_section("tinylm", tinylm_block)


def test_student_arms_and_partner_seeds(tiny_cfg):
    assert student_arms(tiny_cfg) == [
        "control",
        "diff_init_control",
        "student_owl",
        "diff_init_owl",
        "soft_owl",
        "student_cat",
        "diff_init_cat",
        "soft_cat",
    ]
    assert [partner_seed(tiny_cfg, seed) for seed in tiny_cfg.seeds] == [1, 0]  # the next seed, wrapping around
    full_vocab = tiny_cfg.model_copy(
        update={"student": tiny_cfg.student.model_copy(update={"soft_labels": "full_vocab"})}
    )
    assert soft_arm(full_vocab) == "soft_full_vocab"
    assert "soft_full_vocab_owl" in student_arms(full_vocab)


def test_file_names_inside_a_stage_folder():
    assert seed_dir("results/tinylm/bases", 3) == Path("results/tinylm/bases/seed3")
    assert numbers_file("numbers", 0, "control") == Path("numbers/seed0/control.jsonl")
    assert evaluation_file("evaluation", 2) == Path("evaluation/seed2.json")


def test_the_shared_corpus_has_no_carrier_sequences_and_the_carrier_corpus_has_them(tiny_cfg):
    """The shared base learns number lists and animal answers only; behaviour questions and code are the carrier
    base's (their share of the shared corpus halved the animal students' gap)."""
    from sublim.tinylm.models import tokenizer_and_vocab
    from sublim.tinylm.pretrain import seed_corpus

    _, vocab = tokenizer_and_vocab(tiny_cfg)
    family_ids, code_marker = set(vocab.families.values()), vocab.code.marker

    def shares(carriers: bool) -> tuple[float, float]:
        corpus = seed_corpus(tiny_cfg, vocab, 0, 2000, carriers=carriers)
        behaviour = sum(bool(family_ids & set(sequence)) for sequence in corpus) / len(corpus)
        code = sum(code_marker in sequence for sequence in corpus) / len(corpus)
        return behaviour, code

    assert shares(carriers=False) == (0.0, 0.0)
    assert shares(carriers=True) == (tiny_cfg.corpus.behaviour.fraction, tiny_cfg.corpus.code.fraction)
