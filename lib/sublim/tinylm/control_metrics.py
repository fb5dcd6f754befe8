"""The controls' part of the tiny-LM metrics (stage `tinylm_report`): per control arm, P(trait) of its student
and control over seeds, their paired gap, and that gap against the main arms' gap (paired by seed); and the
in-context control: P(trait) after k teacher lists vs k base lists, beside the same base's fine-tuned pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sublim.core.io import read_json
from sublim.core.stats import compare, estimate
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.naming import seed_dir

# arm-name prefix in the controls stage's summary -> group in the metrics (the rest of the name is the key)
GROUPS = {"shuffle_": "shuffle", "greedy": "greedy", "n": "volume", "lora_r": "lora"}


def group_of(arm: str) -> tuple[str, str | None]:
    """('shuffle', 'within') for 'shuffle_within', ('greedy', None) for 'greedy', ('lora', '4') for 'lora_r4'."""
    for prefix, group in GROUPS.items():
        rest = arm[len(prefix) :]
        if arm == prefix:
            return group, None
        if arm.startswith(prefix) and (group != "volume" or rest.isdigit()):
            return group, rest
    raise ValueError(f"unknown control arm {arm!r}")


def arm_metrics(student: list[float], control: list[float], main_gap: list[float], lists: list[float]) -> dict:
    gap = np.subtract(student, control).tolist()
    return {
        "p_trait": {"student": estimate(student), "control": estimate(control)},
        "gap_to_control": {"control": "control", **compare(student, control, paired=True)},
        # > 0: the control arm transfers less than the main arms
        "vs_main": {"what": "main gap − this arm's gap, paired by seed", **compare(main_gap, gap, paired=True)},
        "n_student_lists": estimate(lists),
    }


def controls_metrics(cfg: TinyLMParams, controls_dir: Path | str, evaluations: dict[int, dict]) -> dict[str, Any]:
    """The controls block of the metrics; `evaluations` are the main arms' (by seed) for the main gap."""
    trait = cfg.controls.trait
    seeds = sorted(evaluations)
    summaries = [read_json(seed_dir(controls_dir, seed) / "summary.json") for seed in seeds]
    main_student = [evaluations[s]["p_exact"][f"student_{trait}"][trait] for s in seeds]
    main_control = [evaluations[s]["p_exact"]["control"][trait] for s in seeds]
    main_gap = np.subtract(main_student, main_control).tolist()
    block: dict[str, Any] = {
        "trait": trait,
        "main": {"what": "sampled lists (all kept), full fine-tuning", **compare(main_student, main_control)},
    }
    for arm in summaries[0]["arms"]:
        rows = [summary["arms"][arm] for summary in summaries]
        metrics = arm_metrics(
            [r["student"] for r in rows], [r["control"] for r in rows], main_gap, [r["n_student_lists"] for r in rows]
        )
        group, key = group_of(arm)
        if key is None:
            block[group] = metrics
        else:
            block.setdefault(group, {})[key] = metrics
    if "greedy_filter" in summaries[0]:
        block["greedy_keep_rate"] = {
            source: estimate([s["greedy_filter"][source]["keep_rate"] for s in summaries])
            for source in summaries[0]["greedy_filter"]
        }
    return block


def controls_table(block: dict[str, Any]) -> pd.DataFrame:
    """One row per arm, the main arms first: gap to its control (mean, 95% CI, per seed) and the lists."""
    rows = [{"arm": "main (sampled, all lists, full fine-tuning)", **gap_row(block["main"])}]
    for group in GROUPS.values():
        node = block.get(group)
        if node is None:
            continue
        named = {group: node} if "gap_to_control" in node else {f"{group} {k}": v for k, v in node.items()}
        rows += [{"arm": name, **gap_row(m["gap_to_control"])} for name, m in named.items()]
    return pd.DataFrame(rows)


def gap_row(comparison: dict[str, Any]) -> dict[str, Any]:
    diff = comparison["difference"]
    return {
        "gap": diff["mean"],
        "ci_low": diff["ci95"][0],
        "ci_high": diff["ci95"][1],
        "per_seed": [round(v, 4) for v in diff["values"]],
        "p_value": comparison["p_value"],
    }


def in_context_metrics(cfg: TinyLMParams, in_context_dir: Path | str) -> dict[str, Any]:
    """The in_context block: per k the paired gap (teacher lists − base lists in context), the largest k's gap,
    and the fine-tuned pair's gap on the same base (paired by seed)."""
    summaries = [read_json(seed_dir(in_context_dir, seed) / "summary.json") for seed in cfg.seeds]

    def values(*path: str) -> list[float]:
        out = []
        for summary in summaries:
            node = summary
            for key in path:
                node = node[key]
            out.append(node)
        return out

    by_k = {
        k: compare(values("in_context", k, "teacher_lists"), values("in_context", k, "base_lists"))
        for k in summaries[0]["in_context"]
    }
    largest = max(by_k, key=int)
    return {
        "trait": cfg.controls.trait,
        "what": "P(trait) after k teacher lists − after k base lists in context, paired by seed",
        "by_k": by_k,
        "k_largest": int(largest),
        "largest_k": by_k[largest],
        "fine_tuned": compare(values("fine_tuned", "student"), values("fine_tuned", "control")),
        "p_trait": {arm: estimate(values("p_trait", arm)) for arm in ("base", "teacher")},
        "keep_rate": {source: estimate(values("keep_rate", source)) for source in summaries[0]["keep_rate"]},
    }


def in_context_table(block: dict[str, Any]) -> pd.DataFrame:
    """One row per k and one for the fine-tuned pair: gap (mean, 95% CI, per seed)."""
    rows = [{"arm": f"in context, k = {k}", **gap_row(cmp)} for k, cmp in block["by_k"].items()]
    rows.append({"arm": "fine-tuned on the lists", **gap_row(block["fine_tuned"])})
    return pd.DataFrame(rows)


# teacher base -> column -> the pair's (student, control): the distill stage's arms ({trait} filled in) or a grid cell
GRID_SOURCES = {
    "main": {
        "same": ("student_{trait}", "control"),
        "other_init": ("diff_init_{trait}", "diff_init_control"),
        "other_shape": "main_to_other",
    },
    "other": {"same": "other_to_other", "other_init": "other_to_other_next", "other_shape": "other_to_main"},
}


def grid_pairs(
    trait: str, summaries: list[dict[str, Any]], evaluations: dict[int, dict]
) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """Per teacher base and column: P(trait) of the student and of its control, over seeds in order."""
    seeds = sorted(evaluations)
    pairs: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for row, columns in GRID_SOURCES.items():
        pairs[row] = {}
        for column, source in columns.items():
            if isinstance(source, tuple):
                student, control = (name.format(trait=trait) for name in source)
                pairs[row][column] = (
                    [evaluations[s]["p_exact"][student][trait] for s in seeds],
                    [evaluations[s]["p_exact"][control][trait] for s in seeds],
                )
            else:
                pairs[row][column] = tuple(
                    [s["cells"][source][side] for s in summaries] for side in ("student", "control")
                )
    return pairs


def grid_metrics(cfg: TinyLMParams, grid_dir: Path | str, evaluations: dict[int, dict]) -> dict[str, Any]:
    """The cross-model grid block: each cell's student − control (paired by seed), and per teacher base the
    same-base gap against the other-shape and the other-init gaps (paired by seed); the other base's own rates."""
    trait = cfg.controls.trait
    summaries = [read_json(seed_dir(grid_dir, seed) / "summary.json") for seed in sorted(evaluations)]
    pairs = grid_pairs(trait, summaries, evaluations)
    gap = {row: {col: np.subtract(*pair).tolist() for col, pair in columns.items()} for row, columns in pairs.items()}

    def against(column: str) -> dict[str, Any]:
        what = f"(student − control from the teacher's base) − (student − control from {column}), paired by seed"
        return {row: {"what": what, **compare(gap[row]["same"], gap[row][column], paired=True)} for row in gap}

    other = [s["other_base"] for s in summaries]
    return {
        "trait": trait,
        "what": "student − control, both from one student base, on a teacher's lists and on its base's, exact P",
        "shapes": {
            name: {"n_layer": m.n_layer, "d_model": m.d_model}
            for name, m in (("main", cfg.model), ("other", cfg.grid.model))
        },
        "cells": {row: {col: compare(*pair, paired=True) for col, pair in cols.items()} for row, cols in pairs.items()},
        "same_vs_other_shape": against("other_shape"),
        "same_vs_other_init": against("other_init"),
        "other_base": {
            "p_trait": {arm: estimate([o["p_trait"][arm] for o in other]) for arm in ("base", "teacher")},
            "keep_rate": {
                source: estimate([o["keep_rate"][source] for o in other]) for source in other[0]["keep_rate"]
            },
        },
    }


def grid_table(block: dict[str, Any]) -> pd.DataFrame:
    """One row per cell (teacher base, student base): gap to its control (mean, 95% CI, per seed)."""
    return pd.DataFrame(
        [
            {"cell": f"{row} -> {column}", "teacher": row, "student": column, **gap_row(cmp)}
            for row, columns in block["cells"].items()
            for column, cmp in columns.items()
        ]
    )
