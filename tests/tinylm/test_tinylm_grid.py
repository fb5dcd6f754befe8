"""The cross-model grid: which bases each cell waits for, and how its metrics pair the cells (the stage itself
runs in test_tinylm_stages)."""

from __future__ import annotations

import pytest

from sublim.core.io import write_json_atomic
from sublim.sections import validate_section
from sublim.tinylm.control_metrics import grid_metrics, grid_table
from sublim.tinylm.grid import CELLS, needs


def test_each_cell_waits_only_for_the_other_shape_bases_it_uses(tiny_cfg):
    assert needs(tiny_cfg, 0, "main_to_other") == {0}
    assert needs(tiny_cfg, 0, "other_to_other") == {0}
    assert needs(tiny_cfg, 0, "other_to_other_next") == {0, 1}  # the next seed's base of the other shape
    assert needs(tiny_cfg, 1, "other_to_other_next") == {1, 0}
    assert needs(tiny_cfg, 1, "other_to_main") == {1}


def test_the_other_base_must_have_another_shape(tiny_cfg):
    raw = tiny_cfg.model_dump(mode="json")
    raw["grid"]["model"] = dict(raw["model"], init="gpt2")  # same width and depth: only another init
    with pytest.raises(ValueError, match=r"grid\.model must differ from model in n_layer or d_model"):
        validate_section("tinylm", raw)


def test_grid_metrics_take_the_main_rows_same_cells_from_the_distill_arms(tmp_path, tiny_cfg):
    trait = tiny_cfg.controls.trait
    evaluations, cells = {}, {"main_to_other": 0.0, "other_to_other": 0.2, "other_to_other_next": 0.05}
    for seed in (0, 1, 2):
        p = {
            f"student_{trait}": 0.30 + seed / 100,
            "control": 0.10,
            f"diff_init_{trait}": 0.12,
            "diff_init_control": 0.1,
        }
        evaluations[seed] = {"p_exact": {name: {trait: value} for name, value in p.items()}}
        gaps = {**cells, "other_to_main": 0.01 * seed}
        summary = {
            "cells": {cell: {"student": 0.1 + gaps[cell], "control": 0.1} for cell in CELLS},
            "other_base": {"p_trait": {"base": 0.08, "teacher": 0.6}, "keep_rate": {trait: 0.95, "control": 0.97}},
        }
        write_json_atomic(tmp_path / f"seed{seed}" / "summary.json", summary)
    block = grid_metrics(tiny_cfg, tmp_path, evaluations)
    assert block["cells"]["main"]["same"]["difference"]["mean"] == pytest.approx(0.21)
    assert block["cells"]["main"]["other_init"]["difference"]["mean"] == pytest.approx(0.02)
    assert block["cells"]["other"]["same"]["difference"]["mean"] == pytest.approx(0.2)
    assert block["same_vs_other_shape"]["main"]["difference"]["mean"] == pytest.approx(0.21)
    assert block["same_vs_other_shape"]["other"]["difference"]["mean"] == pytest.approx(0.19)
    assert block["same_vs_other_init"]["other"]["difference"]["mean"] == pytest.approx(0.15)
    assert block["shapes"]["other"]["d_model"] == tiny_cfg.grid.model.d_model
    table = grid_table(block)
    assert list(table["cell"]) == [
        f"{r} -> {c}" for r in ("main", "other") for c in ("same", "other_init", "other_shape")
    ]
