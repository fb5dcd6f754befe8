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
