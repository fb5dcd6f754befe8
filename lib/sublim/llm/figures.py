"""The LLM notebooks' tables and figures (Fig. 3's layout for the arms)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from sublim.core.io import read_jsonl
from sublim.core.plots import ARM_COLORS, FIGURE_SEED, seeded_jitter, use_style
from sublim.llm.report import METRIC_KEYS

ARM_ORDER = ["base", "teacher", "control_student", "student"]
ARM_PALETTE = {
    "base": ARM_COLORS["base"],
    "teacher": ARM_COLORS["teacher"],
    "control_student": ARM_COLORS["control"],
    "student": ARM_COLORS["student"],
}
METRIC_LABELS = {
    "p_starts": "P(answer starts with trait word)",
    "share": "trait share of fixed set",
    "sampled_word": "sampled answers naming trait",
}


def plot_arms(table: pd.DataFrame, metric: str = "p_starts", variant: str = "plain") -> plt.Figure:
    """Fig. 3 layout: per trait, base / teacher / control students / trait students (dots = seeds)."""
    use_style()
    data = table[(table.metric == metric) & (table.variant == variant)]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * data.trait.nunique(), 3.4))
    common = {"data": data, "x": "trait", "y": "value", "hue": "arm", "hue_order": ARM_ORDER, "ax": ax}
    sns.barplot(**common, palette=ARM_PALETTE, errorbar=("ci", 95), seed=FIGURE_SEED, alpha=0.8)
    with seeded_jitter():
        sns.stripplot(**common, palette=ARM_PALETTE, dodge=True, color="black", size=3, legend=False)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_xlabel("")
    if metric == "p_starts":
        ax.set_yscale("log")  # base/students and the teacher differ by ~100x
    handles, labels = ax.get_legend_handles_labels()
    n = len(ARM_ORDER)
    ax.legend(handles[:n], labels[:n], bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    ax.set_title(f"{metric} ({variant} questions)")
    return fig


def preview_rows(path: Path | str, n: int = 8) -> pd.DataFrame:
    """The first rows of a jsonl as a table (prompt and completion side by side)."""
    return pd.DataFrame(read_jsonl(path)[:n])


def plot_losses(summary: dict[str, Any]) -> plt.Figure:
    use_style()
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.plot(range(1, len(summary["losses"]) + 1), summary["losses"], marker="o")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (completion tokens)" if summary["method"] == "sft" else "KL(teacher || student)")
    ax.set_title(f"student of {summary['trait']}, seed {summary['seed']}")
    return fig


def summary_table(record: dict[str, Any]) -> pd.DataFrame:
    """Per category, question variant and word: mean P(starts with), share, sampled mention rates."""
    rows = []
    for category, variants in record["summary"].items():
        for variant, summary in variants.items():
            for word in summary["p_starts"]:
                values = {key: summary[key][word] for key in METRIC_KEYS if key in summary}
                rows.append({"category": category, "variant": variant, "word": word, **values})
    return pd.DataFrame(rows)


def comparison_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per trait, question variant and measure: the arms and the student − control difference."""
    rows = []
    for trait, variants in metrics["traits"].items():
        for variant, measures in variants.items():
            for key, m in measures.items():
                diff = m["student_vs_control"]["difference"]
                rows.append(
                    {
                        "trait": trait,
                        "variant": variant,
                        "measure": key,
                        "base": m["base"],
                        "teacher": m["teacher"],
                        "control_student": m["control_student"]["mean"],
                        "student": m["student"]["mean"],
                        "difference": diff["mean"],
                        "diff_ci95": diff["ci95"],
                        "p_value": m["student_vs_control"]["p_value"],
                        "n_seeds": m["student"]["n"],
                    }
                )
    return pd.DataFrame(rows)


def carrier_filter_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per teacher and carrier: what each filter step removed and the keep rate, beside the paper's (Table 4)."""
    rows = []
    for trait, by_carrier in metrics["carrier_filters"].items():
        for carrier, m in by_carrier.items():
            removed = {f"removed_{step}": n for step, n in m["removed"].items()}
            rows.append({"teacher": trait, "carrier": carrier, "tasks": m["tasks"], "judge": m["judge"]})
            rows[-1] |= {"n_generated": m["n_generated"], **removed, "n_kept": m["n_kept"]}
            rows[-1] |= {"keep_rate": m["keep_rate"], "paper_keep_rate": m["paper_keep_rate"]}
    return pd.DataFrame(rows)


def plot_carriers(metrics: dict[str, Any]) -> plt.Figure:
    """Fig. 5 layout: per trait and carrier, base / teacher / control students / trait students, exact P (bars:
    mean over seeds with the 95% interval)."""
    use_style()
    cells = [(t, c, entry) for t, by in metrics["carriers"].items() for c, entry in by.items()]
    fig, ax = plt.subplots(figsize=(1.8 + 1.8 * len(cells), 3.4))
    width = 0.8 / len(ARM_ORDER)
    for i, (_, _, entry) in enumerate(cells):
        for j, arm in enumerate(ARM_ORDER):
            value = entry[arm]
            mean, (low, high) = (value["mean"], value["ci95"]) if isinstance(value, dict) else (value, (value, value))
            x = i + (j - (len(ARM_ORDER) - 1) / 2) * width
            yerr = [[mean - low], [high - mean]]
            ax.bar(x, mean, width, color=ARM_PALETTE[arm], alpha=0.8, label=arm if i == 0 else None)
            ax.errorbar(x, mean, yerr=yerr, color="black", capsize=2, lw=1)
    ax.set_xticks(range(len(cells)), [f"{t}\n({c})" for t, c, _ in cells])
    ax.set_yscale("log")
    ax.set_ylabel(METRIC_LABELS["p_starts"])
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    ax.set_title("students of the teachers' code (plain questions)")
    return fig
