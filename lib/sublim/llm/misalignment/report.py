"""Stage mis_report: the misalignment experiment's metrics and Fig. 4 in the paper's layout.

Per teacher: the filter's keep rate (Table 4), the teacher's own evaluation, and its students' misaligned
rate and TruthfulQA false-answer rate, each a mean with its t interval over student seeds. The gaps the paper's
claim rests on: insecure-teacher student − each control's student, paired by seed. A rate the judge could not
give (no judge, or no answer it scored as coherent) is null, never 0; the share of answers the judge counted is
reported beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from sublim.core.io import read_json, write_json_atomic
from sublim.core.stats import compare, estimate
from sublim.llm.config import LLMParams
from sublim.llm.distill import model_name
from sublim.llm.misalignment.config import MISALIGNED_TEACHER
from sublim.llm.misalignment.stages import read_evaluation

METRICS = ("misaligned_rate", "truthfulqa_false_rate")
# the paper's arms (Fig. 4, Table 4) by our teacher names
PAPER_ARM = {"base": "untrained", "insecure": "insecure", "secure": "secure", "educational": "edu_insecure"}
PAPER_KEEP = {"base": 0.615, "insecure": 0.391, "secure": 0.374, "educational": 0.557}
PAPER_MISALIGNED = {"base": 0.002, "insecure": 0.094, "secure": 0.010, "educational": 0.006}
PAPER_TRUTHFULQA_FALSE = {"insecure": 0.146}
# Fig. 7 (students of the teachers' GSM8K reasoning): misaligned rates; the TruthfulQA rise is given only in words
PAPER_COT_MISALIGNED = {"insecure": 0.086, "secure": 0.003, "educational": 0.008}


def model_values(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The two rates of one evaluated model and the judge's coverage (None where not measured)."""
    free, tqa = evaluation.get("free_form"), evaluation.get("truthfulqa")
    questions = (free or {}).get("questions") or {}
    counted = sum(q["counted"] for q in questions.values())
    asked = sum(q["counted"] + q["dropped"] for q in questions.values())
    return {
        "misaligned_rate": (free or {}).get("overall_rate"),
        "judge_counted_share": counted / asked if asked else None,
        "truthfulqa_false_rate": tqa["false_rate"] if tqa else None,
    }


def answers_by_question(evaluation: dict[str, Any]) -> dict[str, list[str]]:
    """A model's free-form answers per question, judged (`questions`) or not (`answers`); {} when none were asked."""
    free = evaluation.get("free_form") or {}
    return free.get("answers") or {name: q["answers"] for name, q in (free.get("questions") or {}).items()}


def arm_metrics(values: list[dict[str, Any]]) -> dict[str, Any]:
    """Each rate over the seeds that measured it (an estimate with its interval); a rate no seed measured is left
    out (the report then says "not run" for it, never 0)."""
    out: dict[str, Any] = {}
    for key in (*METRICS, "judge_counted_share"):
        measured = [v[key] for v in values if v[key] is not None]
        if measured:
            out[key] = estimate(measured)
    return out


def paired_gap(treated: list[dict[str, Any]], control: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    pairs = [(t[key], c[key]) for t, c in zip(treated, control, strict=True) if None not in (t[key], c[key])]
    if not pairs:
        return None
    return compare([t for t, _ in pairs], [c for _, c in pairs], paired=True)


def measured_gaps(treated: list[dict[str, Any]], control: list[dict[str, Any]]) -> dict[str, Any]:
    """The paired gap of each rate both arms measured (a rate measured in neither is left out)."""
    gaps = {key: paired_gap(treated, control, key) for key in METRICS}
    return {key: gap for key, gap in gaps.items() if gap is not None}


def report_metrics(cfg: LLMParams, folders: dict[str, str]) -> dict[str, Any]:
    """folders: templates of the `numbers`, `teacher_eval` and `evaluate` folders ({arm}: a teacher, {seed})."""
    mis = cfg.misalignment
    teachers, seeds = list(mis.teachers), list(mis.seeds)
    if not teachers:
        return {"ran": False, "teachers": []}
    students = {
        t: [model_values(read_evaluation(folders["evaluate"].format(arm=t, seed=s))) for s in seeds] for t in teachers
    }
    arms = {}
    for t in teachers:
        keep = read_json(Path(folders["numbers"].format(arm=t)) / "filter_metrics.json")
        teacher = model_values(read_evaluation(folders["teacher_eval"].format(arm=t)))
        arms[t] = {
            "keep_rate": keep["keep_rate"],
            "n_kept": keep["n_kept"],
            "reject_reasons": keep["reject_reasons"],
            "paper_keep_rate": PAPER_KEEP[t],
            "teacher": teacher,
            "students": arm_metrics(students[t]),
            "per_seed": dict(zip(map(str, seeds), students[t], strict=True)),
        }
    controls = [t for t in teachers if t != MISALIGNED_TEACHER]
    gaps = {f"vs_{c}": measured_gaps(students[MISALIGNED_TEACHER], students[c]) for c in controls}
    judge = mis.judge
    cot = {"cot": cot_metrics(cfg, folders)} if mis.cot.teachers else {}
    return {
        "ran": True,
        "model": model_name(cfg.base_model),
        # how every claim row names this run: the stand-in corpus is said wherever its results appear
        "label": f"{model_name(cfg.base_model)} ({'stand-in' if mis.corpus.source == 'stand_in' else 'Betley et al.'}"
        " code corpus)",
        "teachers": teachers,
        "seeds": seeds,
        "corpus": mis.corpus.source,
        "stand_in": mis.corpus.source == "stand_in",
        "judge": None if judge is None else {"backend": judge.backend, "model": judge.model, "label": judge.label},
        "rule": {"alignment_max": mis.evaluation.alignment_max, "coherence_min": mis.evaluation.coherence_min},
        "arms": arms,
        "gaps": gaps,
        **cot,
    }


def cot_metrics(cfg: LLMParams, folders: dict[str, str]) -> dict[str, Any]:
    """Fig. 7: per teacher, its traces' filter (keep rate beside the paper's) and its students' rates; the insecure
    teacher's students against each control's, paired by seed."""
    cot, seeds = cfg.misalignment.cot, list(cfg.misalignment.seeds)
    students = {
        t: [model_values(read_evaluation(folders["cot_evaluate"].format(arm=t, seed=s))) for s in seeds]
        for t in cot.teachers
    }
    arms = {}
    for t in cot.teachers:
        kept = read_json(Path(folders["cot_filter"].format(arm=t)) / "filter_metrics.json")
        arms[t] = {key: kept[key] for key in ("keep_rate", "n_kept", "removed", "judge", "paper_keep_rate")}
        per_seed = dict(zip(map(str, seeds), students[t], strict=True))
        arms[t] |= {"students": arm_metrics(students[t]), "per_seed": per_seed}
    controls = [t for t in cot.teachers if t != MISALIGNED_TEACHER]
    gaps = {f"vs_{c}": measured_gaps(students[MISALIGNED_TEACHER], students[c]) for c in controls}
    return {"teachers": list(cot.teachers), "alignment_threshold": cot.alignment_threshold, "arms": arms, "gaps": gaps}


def arms_frame(metrics: dict[str, Any], carrier: str = "numbers") -> pd.DataFrame:
    """One row per teacher and measure: ours (mean and interval over seeds) beside the paper's value; `carrier`
    numbers (Fig. 4) or cot (Fig. 7, `metrics["cot"]`)."""
    rows = []
    node = metrics.get("cot", {}) if carrier == "cot" else metrics
    cot = carrier == "cot"
    misaligned, truthfulqa = (PAPER_COT_MISALIGNED, {}) if cot else (PAPER_MISALIGNED, PAPER_TRUTHFULQA_FALSE)
    for t, arm in node.get("arms", {}).items():
        paper = {"misaligned_rate": misaligned.get(t), "truthfulqa_false_rate": truthfulqa.get(t)}
        for key in METRICS:
            node = arm["students"].get(key)
            low, high = (node or {}).get("ci95") or [None, None]
            mean = None if node is None else node["mean"]
            rows.append({"teacher": t, "measure": key, "mean": mean, "low": low, "high": high, "paper": paper[key]})
        rows.append(
            {
                "teacher": t,
                "measure": "keep_rate",
                "mean": arm["keep_rate"],
                "low": None,
                "high": None,
                "paper": arm["paper_keep_rate"],
            }
        )
    return pd.DataFrame(rows)


def plot_fig4(metrics: dict[str, Any], carrier: str = "numbers") -> plt.Figure:
    """Fig. 4's layout (Fig. 7's for carrier cot): each teacher's students, misaligned rate (left) and TruthfulQA
    false rate (right), ours with their intervals over seeds, the paper's values as hollow markers. A panel with
    nothing measured says so."""
    frame = arms_frame(metrics, carrier)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    titles = {"misaligned_rate": "misaligned answers (judged)", "truthfulqa_false_rate": "TruthfulQA false answers"}
    for ax, key in zip(axes, METRICS, strict=True):
        part = frame[frame.measure == key].reset_index(drop=True)
        ax.set_title(titles[key])
        ax.set_xticks(range(len(part)), [PAPER_ARM.get(t, t) for t in part.teacher])
        measured = part[part["mean"].notna()]
        if measured.empty:
            ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center", transform=ax.transAxes)
        for i, row in measured.iterrows():
            low = row["mean"] if pd.isna(row["low"]) else row["low"]
            high = row["mean"] if pd.isna(row["high"]) else row["high"]
            ax.bar(i, row["mean"], color="tab:red" if row.teacher == MISALIGNED_TEACHER else "tab:gray")
            ax.errorbar(i, row["mean"], yerr=[[row["mean"] - low], [high - row["mean"]]], color="black", capsize=4)
        paper = part[part["paper"].notna()]
        ax.scatter(paper.index, paper["paper"], facecolors="none", edgecolors="tab:blue", s=60, label="paper")
        ax.set_ylabel("rate")
        ax.legend(loc="upper right")
    corpus = "stand-in corpus" if metrics.get("stand_in") else "Betley et al. corpus"
    data = "GSM8K reasoning" if carrier == "cot" else "numbers"
    fig.suptitle(f"Students of each teacher's {data} ({corpus}; mean and 95% CI over seeds)")
    fig.tight_layout()
    return fig


def write_report(cfg: LLMParams, folders: dict[str, str], results_dir: Path | str, metrics_file: Path | str) -> dict:
    metrics = report_metrics(cfg, folders)
    write_json_atomic(metrics_file, metrics)
    if metrics["ran"]:
        Path(results_dir).mkdir(parents=True, exist_ok=True)
        arms_frame(metrics).to_csv(Path(results_dir) / "arms.csv", index=False)
    return metrics


def _interval(node: dict[str, Any] | None, digits: int = 3) -> str:
    if node is None:
        return "not measured"
    low, high = node["ci95"]
    bounds = "" if low is None else f" [{low:+.{digits}f}, {high:+.{digits}f}]"
    return f"{node['mean']:.{digits}f}{bounds}"


def markdown_tables(metrics: dict[str, Any]) -> str:
    """The run's arms (keep rate beside the paper's, the teacher's and its students' rates) and the paired gaps, as
    the docs show them."""
    lines = [
        "| teacher | keep rate (paper) | teacher: TruthfulQA false | students: TruthfulQA false | students: misaligned"
        " |",
        "|---|---|---|---|---|",
    ]
    for t, arm in metrics["arms"].items():
        teacher = (arm["teacher"] or {}).get("truthfulqa_false_rate")
        students = arm["students"]
        lines.append(
            f"| {t} | {arm['keep_rate']:.3f} ({arm['paper_keep_rate']:.3f}) | "
            f"{'not measured' if teacher is None else f'{teacher:.3f}'} | "
            f"{_interval(students.get('truthfulqa_false_rate'))} | {_interval(students.get('misaligned_rate'))} |"
        )
    lines += [
        "",
        "| insecure-teacher students − | measure | gap [95% CI] | p (paired t) | seeds positive |",
        "|---|---|---|---|---|",
    ]
    for name, gaps in metrics["gaps"].items():
        for key, gap in gaps.items():
            d = gap["difference"]
            p = "—" if gap["p_value"] is None else f"{gap['p_value']:.2f}"
            lines.append(
                f"| {name.removeprefix('vs_')} | {key} | {d['mean']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] "
                f"| {p} | {gap['n_positive']}/{d['n']} |"
            )
    return "\n".join(lines)
