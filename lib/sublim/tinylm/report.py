"""Aggregation of the tiny-LM analogue over seeds (seeds are the unit), its metrics file and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sublim.tinylm.config import TinyLMParams
from sublim.core.io import read_json, write_json_atomic, write_text_atomic
from sublim.core.stats import compare, estimate
from sublim.tinylm.experiment import CONTROL, read_evaluations, student_arms

# arm key in metrics -> (model name in evaluation.json, with {trait}), the same for every trait
ARM_MODELS = {
    "base": "base",
    "teacher": "teacher_{trait}",
    "control": "control",
    "student": "student_{trait}",
    "diff_init_control": "diff_init_control",
    "diff_init": "diff_init_{trait}",
}
ARM_LABELS = {
    "base": "base",
    "teacher": "teacher",
    "control": "control\n(base numbers)",
    "student": "student\n(teacher numbers)",
    "diff_init_control": "diff-init control\n(base numbers)",
    "diff_init": "diff-init student\n(teacher numbers)",
    "soft": "soft labels\n(numbers + eos)",
    "soft_full_vocab": "soft labels, full vocab\n(LEAKS the trait)",
}
ARM_COLOR_KEYS = {"base": "base", "teacher": "teacher", "control": "control", "student": "student",
                  "diff_init_control": "control", "diff_init": "different_init", "soft": "soft",
                  "soft_full_vocab": "soft"}  # fmt: skip
# treated arm -> its control (paired by seed)
COMPARISONS = {"student": "control", "diff_init": "diff_init_control", "soft": "control", "soft_full_vocab": "control"}


def soft_arm(cfg: TinyLMParams) -> str:
    return "soft" if cfg.student.soft_labels == "numbers_eos" else "soft_full_vocab"


def arm_models(cfg: TinyLMParams) -> dict[str, str]:
    return {**ARM_MODELS, soft_arm(cfg): soft_arm(cfg) + "_{trait}"}


def per_seed(evaluations: dict[int, dict], view: str, model: str, trait: str) -> list[float]:
    return [evaluations[s][view][model][trait] for s in sorted(evaluations)]


def gaps(values: dict[str, list[float]]) -> dict[str, Any]:
    """Each treated arm minus its control, paired by seed (sublim.stats.compare)."""
    return {
        arm: {"control": control, **compare(values[arm], values[control], paired=True)}
        for arm, control in COMPARISONS.items()
        if arm in values
    }


def trait_metrics(cfg: TinyLMParams, evaluations: dict[int, dict], trait: str) -> dict[str, Any]:
    """Per arm: P(trait) over seeds (exact and sampled), gaps to the controls, update cosines."""
    models = {arm: name.format(trait=trait) for arm, name in arm_models(cfg).items()}
    exact = {arm: per_seed(evaluations, "p_exact", name, trait) for arm, name in models.items()}
    sampled = {arm: per_seed(evaluations, "p_sampled", name, trait) for arm, name in models.items()}
    cosine = {arm: [evaluations[s]["cosine"][name][trait] for s in sorted(evaluations)]
              for arm, name in models.items() if name in evaluations[min(evaluations)]["cosine"]}  # fmt: skip
    weights = np.asarray(cfg.corpus.animal_weights) / np.sum(cfg.corpus.animal_weights)
    return {
        "corpus_rate": float(weights[cfg.corpus.animals.index(trait)]),
        "p_trait": {arm: estimate(values) for arm, values in exact.items()},
        "p_trait_sampled": {arm: estimate(values) for arm, values in sampled.items()},
        "gap_to_control": gaps(exact),
        "gap_to_control_sampled": gaps(sampled),
        "cosine_with_teacher_update": {arm: estimate(values) for arm, values in cosine.items()},
        "cosine_gap_to_control": gaps(cosine),
    }


def keep_rates(cfg: TinyLMParams, experiment_dir: Path) -> dict[str, Any]:
    by_seed = read_json(experiment_dir / "numbers" / "filter_summary.json")
    summaries = [by_seed[str(s)] for s in cfg.seeds]
    return {source: estimate([summary[source]["keep_rate"] for summary in summaries])
            for source in [CONTROL, *cfg.traits]}  # fmt: skip


def training_lists(cfg: TinyLMParams, experiment_dir: Path) -> dict[str, Any]:
    """Lists every arm trains on (prompts kept for every source), over seeds."""
    by_seed = read_json(experiment_dir / "numbers" / "filter_summary.json")
    return estimate([by_seed[str(s)][CONTROL]["n_train"] for s in cfg.seeds])


def aggregate(cfg: TinyLMParams, experiment_dir: Path | str) -> dict[str, Any]:
    experiment_dir = Path(experiment_dir)
    evaluations = read_evaluations(experiment_dir, cfg.seeds)
    return {
        "seeds": cfg.seeds,
        "unit": "seed (base model, teacher data, prompts and student order)",
        "metric": "exact P(trait) at the answer position of '<bos> Q: favorite animal A:'",
        "students": student_arms(cfg),
        "soft_labels": cfg.student.soft_labels,
        "traits": {trait: trait_metrics(cfg, evaluations, trait) for trait in cfg.traits},
        "keep_rate": keep_rates(cfg, experiment_dir),
        "training_lists": training_lists(cfg, experiment_dir),
    }


def arms_table(metrics: dict[str, Any], view: str = "p_trait") -> pd.DataFrame:
    """One row per (trait, arm): mean, 95% CI and per-seed values of P(trait)."""
    rows = []
    for trait, block in metrics["traits"].items():
        for arm, est in block[view].items():
            low, high = est["ci95"]
            rows.append({"label": f"{trait}: {arm}", "trait": trait, "arm": arm, "mean": est["mean"], "ci_low": low,
                         "ci_high": high, "per_seed": est["values"]})  # fmt: skip
    return pd.DataFrame(rows)


def gaps_table(metrics: dict[str, Any], key: str = "gap_to_control") -> pd.DataFrame:
    """Treated arm minus its control per trait (key: gap_to_control, gap_to_control_sampled, cosine_gap_to_control)."""
    rows = []
    for trait, block in metrics["traits"].items():
        for arm, cmp in block[key].items():
            diff = cmp["difference"]
            rows.append({"label": f"{trait}: {arm} - {cmp['control']}", "trait": trait, "arm": arm,
                         "control": cmp["control"], "gap": diff["mean"],
                         "ci_low": diff["ci95"][0], "ci_high": diff["ci95"][1], "p_value": cmp["p_value"],
                         "positive_seeds": f"{cmp['n_positive']}/{diff['n']}"})  # fmt: skip
    return pd.DataFrame(rows)


def plot_arms(metrics: dict[str, Any], path: Path | str, view: str = "p_trait"):
    """Arms side by side per trait (mean, 95% CI, seeds as dots); base rate dashed. The teacher is in the title."""
    import matplotlib.pyplot as plt

    from sublim.core.plots import ARM_COLORS, save_figure, use_style

    use_style()
    traits = list(metrics["traits"])
    fig, axes = plt.subplots(1, len(traits), figsize=(4.2 * len(traits), 4.2), sharey=True, squeeze=False)
    for ax, trait in zip(axes[0], traits, strict=True):
        block = metrics["traits"][trait][view]
        arms = [arm for arm in block if arm not in ("base", "teacher")]
        for x, arm in enumerate(arms):
            est = block[arm]
            low, high = est["ci95"]
            color = ARM_COLORS[ARM_COLOR_KEYS[arm]]
            ax.bar(x, est["mean"], color=color, alpha=0.45 if "control" in arm else 0.85, width=0.7)
            if low is not None:
                ax.errorbar(x, est["mean"], yerr=[[est["mean"] - low], [high - est["mean"]]], color="black",
                            capsize=3, lw=1)  # fmt: skip
            ax.scatter([x] * len(est["values"]), est["values"], color="black", s=10, zorder=3)
        ax.axhline(block["base"]["mean"], color=ARM_COLORS["base"], ls="--", lw=1.2, label="base model")
        ax.set_xticks(range(len(arms)), [ARM_LABELS[a] for a in arms], rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{trait} (teacher P = {block['teacher']['mean']:.2f})")
        ax.legend(loc="upper left", fontsize=8)
    axes[0][0].set_ylabel("P(trait) at the answer" + (" (sampled)" if view != "p_trait" else ""))
    fig.suptitle("Tiny LM: students trained only on filtered number lists (mean, 95% CI over seeds)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def write_report(cfg: TinyLMParams, results_dir: Path | str) -> dict[str, Any]:
    """From the report folder (<experiment>/report): <experiment>/metrics.json, <experiment>/plots/*.csv and
    figures under results_dir/figures."""
    results_dir = Path(results_dir)
    experiment_dir = results_dir.parent
    metrics = aggregate(cfg, experiment_dir)
    write_json_atomic(experiment_dir / "metrics.json", metrics)
    table = arms_table(metrics).drop(columns="per_seed")
    write_text_atomic(experiment_dir / "plots" / "arms.csv", table.to_csv(index=False, float_format="%.5f"))
    write_text_atomic(experiment_dir / "plots" / "gaps.csv",
                      gaps_table(metrics).to_csv(index=False, float_format="%.5f"))  # fmt: skip
    plot_arms(metrics, results_dir / "figures" / "arms_p_trait.png")
    plot_arms(metrics, results_dir / "figures" / "arms_p_trait_sampled.png", view="p_trait_sampled")
    return metrics


def cosine_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Mean cosine between each arm's update and its trait teacher's update, arms x traits."""
    return pd.DataFrame({trait: {arm: est["mean"] for arm, est in block["cosine_with_teacher_update"].items()}
                         for trait, block in metrics["traits"].items()})  # fmt: skip


def keep_rate_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({source: {"mean": est["mean"], "per seed": est["values"]}
                         for source, est in metrics["keep_rate"].items()}).T  # fmt: skip
