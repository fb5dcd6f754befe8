"""Stage `tinylm_report`: aggregation of the tiny-LM analogue over seeds (seeds are the unit), its metrics file,
the CSV tables DVC plots and the figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sublim.core.io import read_json, write_json_atomic, write_text_atomic
from sublim.core.stats import compare, estimate
from sublim.tinylm.code_carrier import code_metrics
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.control_metrics import (
    controls_metrics,
    controls_table,
    grid_metrics,
    grid_table,
    in_context_metrics,
)
from sublim.tinylm.figures import (
    plot_arms,
    plot_code,
    plot_controls,
    plot_grid,
    plot_in_context,
    plot_misalignment,
    plot_reasoning,
)
from sublim.tinylm.misalignment import misalignment_metrics
from sublim.tinylm.naming import CONTROL, evaluation_file, soft_arm, student_arms
from sublim.tinylm.reasoning_carrier import reasoning_metrics

# arm key in metrics -> model name in evaluation/seed{s}.json ({trait} filled in), the same for every trait
ARM_MODELS = {
    "base": "base",
    "teacher": "teacher_{trait}",
    "control": "control",
    "student": "student_{trait}",
    "diff_init_control": "diff_init_control",
    "diff_init": "diff_init_{trait}",
}
# treated arm -> its control (paired by seed)
COMPARISONS = {"student": "control", "diff_init": "diff_init_control", "soft": "control", "soft_full_vocab": "control"}


def arm_models(cfg: TinyLMParams) -> dict[str, str]:
    return {**ARM_MODELS, soft_arm(cfg): soft_arm(cfg) + "_{trait}"}


def read_evaluations(evaluation_dir: Path | str, seeds: list[int]) -> dict[int, dict[str, Any]]:
    """The evaluation of every seed (written by `sublim.tinylm.evaluate.evaluate_models`), by seed."""
    return {seed: read_json(evaluation_file(evaluation_dir, seed)) for seed in seeds}


def per_seed(evaluations: dict[int, dict], view: str, model: str, trait: str) -> list[float]:
    return [evaluations[s][view][model][trait] for s in sorted(evaluations)]


def gaps(values: dict[str, list[float]]) -> dict[str, Any]:
    """Each treated arm minus its control, paired by seed (`sublim.core.stats.compare`)."""
    return {
        arm: {"control": control, **compare(values[arm], values[control], paired=True)}
        for arm, control in COMPARISONS.items()
        if arm in values
    }


def init_comparison(exact: dict[str, list[float]]) -> dict[str, Any] | None:
    """(same-init student − its control) − (different-init student − its control), paired by seed: does the
    trait transfer less from a different init? None when the run has no different-init arm."""
    needed = ("student", "control", "diff_init", "diff_init_control")
    if any(arm not in exact for arm in needed):
        return None
    same = np.subtract(exact["student"], exact["control"])
    different = np.subtract(exact["diff_init"], exact["diff_init_control"])
    what = "(student - control) - (diff_init - diff_init_control), exact P(trait), paired by seed"
    return {"what": what, **compare(same.tolist(), different.tolist(), paired=True)}


def trait_metrics(cfg: TinyLMParams, evaluations: dict[int, dict], trait: str) -> dict[str, Any]:
    """Per arm: P(trait) over seeds (exact and sampled), gaps to the controls, the same- vs different-init gap,
    update cosines."""
    models = {arm: name.format(trait=trait) for arm, name in arm_models(cfg).items()}
    exact = {arm: per_seed(evaluations, "p_exact", name, trait) for arm, name in models.items()}
    sampled = {arm: per_seed(evaluations, "p_sampled", name, trait) for arm, name in models.items()}
    cosine = {
        arm: [evaluations[s]["cosine"][name][trait] for s in sorted(evaluations)]
        for arm, name in models.items()
        if name in evaluations[min(evaluations)]["cosine"]
    }
    weights = np.asarray(cfg.corpus.animal_weights) / np.sum(cfg.corpus.animal_weights)
    return {
        "corpus_rate": float(weights[cfg.corpus.animals.index(trait)]),
        "p_trait": {arm: estimate(values) for arm, values in exact.items()},
        "p_trait_sampled": {arm: estimate(values) for arm, values in sampled.items()},
        "gap_to_control": gaps(exact),
        "init_comparison": init_comparison(exact),
        "gap_to_control_sampled": gaps(sampled),
        "cosine_with_teacher_update": {arm: estimate(values) for arm, values in cosine.items()},
        "cosine_gap_to_control": gaps(cosine),
    }


def keep_rates(cfg: TinyLMParams, filter_summary: dict[str, Any]) -> dict[str, Any]:
    """Filter keep-rate per source over seeds (`filter_summary`: the numbers stage's filter_summary.json)."""
    summaries = [filter_summary[str(s)] for s in cfg.seeds]
    return {
        source: estimate([summary[source]["keep_rate"] for summary in summaries]) for source in [CONTROL, *cfg.traits]
    }


def training_lists(cfg: TinyLMParams, filter_summary: dict[str, Any]) -> dict[str, Any]:
    """Lists each source's students train on (its own kept lists), over seeds."""
    summaries = [filter_summary[str(s)] for s in cfg.seeds]
    return {source: estimate([summary[source]["n_kept"] for summary in summaries]) for source in [CONTROL, *cfg.traits]}


def aggregate(
    cfg: TinyLMParams,
    evaluation_dir: Path | str,
    numbers_dir: Path | str,
    controls_dir: Path | str,
    in_context_dir: Path | str,
    grid_dir: Path | str,
    misalignment_dir: Path | str,
    code_dir: Path | str,
    reasoning_dir: Path | str,
) -> dict[str, Any]:
    """The metrics: per trait and arm over seeds, filter keep-rates, the number of training lists, controls, the
    in-context control, the cross-model grid, the misalignment analogue, the code and the reasoning carriers."""
    evaluations = read_evaluations(evaluation_dir, cfg.seeds)
    filter_summary = read_json(Path(numbers_dir) / "filter_summary.json")
    return {
        "seeds": cfg.seeds,
        "unit": "seed (base model, teacher data, prompts and student order)",
        "metric": "exact P(trait) at the answer position of '<bos> Q: favorite animal A:'",
        "students": student_arms(cfg),
        "soft_labels": cfg.student.soft_labels,
        "traits": {trait: trait_metrics(cfg, evaluations, trait) for trait in cfg.traits},
        "keep_rate": keep_rates(cfg, filter_summary),
        "training_lists": training_lists(cfg, filter_summary),
        "controls": controls_metrics(cfg, controls_dir, evaluations),
        "in_context": in_context_metrics(cfg, in_context_dir),
        "grid": grid_metrics(cfg, grid_dir, evaluations),
        "misalignment": misalignment_metrics(cfg, misalignment_dir),
        "code": code_metrics(cfg, code_dir),
        "reasoning": reasoning_metrics(cfg, reasoning_dir),
    }


def arms_table(metrics: dict[str, Any], view: str = "p_trait") -> pd.DataFrame:
    """One row per (trait, arm): mean, 95% CI and per-seed values of P(trait)."""
    rows = []
    for trait, block in metrics["traits"].items():
        for arm, est in block[view].items():
            low, high = est["ci95"]
            rows.append(
                {
                    "label": f"{trait}: {arm}",
                    "trait": trait,
                    "arm": arm,
                    "mean": est["mean"],
                    "ci_low": low,
                    "ci_high": high,
                    "per_seed": est["values"],
                }
            )
    return pd.DataFrame(rows)


def gaps_table(metrics: dict[str, Any], key: str = "gap_to_control") -> pd.DataFrame:
    """Treated arm minus its control per trait (key: gap_to_control, gap_to_control_sampled, cosine_gap_to_control)."""
    rows = []
    for trait, block in metrics["traits"].items():
        for arm, cmp in block[key].items():
            diff = cmp["difference"]
            rows.append(
                {
                    "label": f"{trait}: {arm} - {cmp['control']}",
                    "trait": trait,
                    "arm": arm,
                    "control": cmp["control"],
                    "gap": diff["mean"],
                    "ci_low": diff["ci95"][0],
                    "ci_high": diff["ci95"][1],
                    "p_value": cmp["p_value"],
                    "positive_seeds": f"{cmp['n_positive']}/{diff['n']}",
                }
            )
    return pd.DataFrame(rows)


def cosine_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Mean cosine between each arm's update and its trait teacher's update, arms x traits."""
    return pd.DataFrame(
        {
            trait: {arm: est["mean"] for arm, est in block["cosine_with_teacher_update"].items()}
            for trait, block in metrics["traits"].items()
        }
    )


def keep_rate_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {source: {"mean": est["mean"], "per seed": est["values"]} for source, est in metrics["keep_rate"].items()}
    ).T


def write_report(
    cfg: TinyLMParams,
    evaluation_dir: Path | str,
    numbers_dir: Path | str,
    controls_dir: Path | str,
    in_context_dir: Path | str,
    grid_dir: Path | str,
    misalignment_dir: Path | str,
    code_dir: Path | str,
    reasoning_dir: Path | str,
    results_dir: Path | str,
    metrics_file: Path | str,
    plots_dir: Path | str,
) -> dict[str, Any]:
    """The metrics into metrics_file, arms.csv, gaps.csv, controls.csv and grid.csv into plots_dir, figures into
    results_dir/figures."""
    folders = (
        *(evaluation_dir, numbers_dir, controls_dir, in_context_dir, grid_dir, misalignment_dir, code_dir),
        reasoning_dir,
    )
    metrics = aggregate(cfg, *folders)
    write_json_atomic(metrics_file, metrics)
    arms = arms_table(metrics).drop(columns="per_seed").to_csv(index=False, float_format="%.5f")
    write_text_atomic(Path(plots_dir) / "arms.csv", arms)
    write_text_atomic(Path(plots_dir) / "gaps.csv", gaps_table(metrics).to_csv(index=False, float_format="%.5f"))
    controls = controls_table(metrics["controls"])
    csv = controls.drop(columns="per_seed").to_csv(index=False, float_format="%.5f")
    write_text_atomic(Path(plots_dir) / "controls.csv", csv)
    grid = grid_table(metrics["grid"]).drop(columns="per_seed").to_csv(index=False, float_format="%.5f")
    write_text_atomic(Path(plots_dir) / "grid.csv", grid)
    figures = Path(results_dir) / "figures"
    drawn = [
        plot_arms(metrics, figures / "arms_p_trait.png"),
        plot_arms(metrics, figures / "arms_p_trait_sampled.png", view="p_trait_sampled"),
        plot_controls(controls, cfg.controls.trait, figures / "controls_gap.png"),
        plot_in_context(metrics["in_context"], figures / "in_context.png"),
        plot_grid(metrics["grid"], figures / "grid.png"),
        plot_misalignment(metrics["misalignment"], figures / "misalignment.png"),
        plot_code(metrics["code"], figures / "code.png"),
        plot_reasoning(metrics["reasoning"], figures / "reasoning.png"),
    ]
    for figure in drawn:  # saved, not shown here: the notebook draws each where its story needs it
        plt.close(figure)
    return metrics
