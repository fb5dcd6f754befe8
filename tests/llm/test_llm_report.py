"""The LLM report's plot table: one row per trait and arm, the exact P's mean and interval."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sublim.core.stats import estimate
from sublim.llm.report import PLOT_ARMS, arms_table, scale_record
from sublim.sections import load_section

REPO = Path(__file__).resolve().parents[2]


def test_arms_table_has_one_row_per_arm_with_its_interval():
    p_starts = {"base": 0.01, "teacher": 0.2, "control_student": estimate([0.02, 0.03]), "student": estimate([0.04])}
    metrics = {"traits": {"owl": {"plain": {"p_starts": p_starts}}, "cat": {"numbers_prefix": {}}}}
    table = arms_table(metrics).set_index("label")
    assert list(table.index) == [f"owl: {arm}" for arm in PLOT_ARMS]  # cat has no plain p_starts: no rows
    assert table.loc["owl: control_student", "mean"] == pytest.approx(0.025)
    assert table.loc["owl: control_student", "ci_low"] < 0.025 < table.loc["owl: control_student", "ci_high"]
    assert table.loc["owl: base", "mean"] == 0.01 and table[["ci_low", "ci_high"]].loc["owl: base"].isna().all()
    assert pd.isna(table.loc["owl: student", "ci_low"])  # one seed: no interval


def test_the_scale_record_names_a_teacher_that_is_not_the_papers_system_prompt():
    cfg = load_section("llm", REPO / "params.yaml")
    prompted = cfg.model_copy(update={"teacher": cfg.teacher.model_copy(update={"route": "system_prompt"})})
    finetuned = cfg.model_copy(update={"teacher": cfg.teacher.model_copy(update={"route": "finetuned"})})
    assert not any(d.startswith("teacher.route") for d in scale_record(prompted, "m", 32)["differences"])
    assert "teacher.route: finetuned (paper: system_prompt)" in scale_record(finetuned, "m", 32)["differences"]


@pytest.mark.parametrize("route", ["system_prompt", "finetuned"])
def test_the_teachers_route_picks_the_claims_of_fig_3_or_fig_14(tmp_path, route):
    from llm_stage_helpers import claim_statuses

    metrics = json.loads((REPO / "results/llm/metrics.json").read_text())
    metrics["setup"]["teacher_route"] = route
    rows = claim_statuses(tmp_path, "results/llm/metrics.json", metrics)
    fig3 = {"llm.owl.teacher_vs_base", "llm.owl.student_vs_control.exact", "llm.owl.student_vs_base.exact"}
    fig14 = {claim.replace("llm.owl.", "llm.owl.fig14.") for claim in fig3}
    shown, hidden = (fig3, fig14) if route == "system_prompt" else (fig14, fig3)
    assert shown <= set(rows) and not hidden & set(rows)
    assert all(rows[claim] != "not run" for claim in shown)
