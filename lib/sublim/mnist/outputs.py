"""What a run leaves behind: metrics.json, the per-model and sweep CSVs, and the tables beside the paper's values."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sublim.core.io import atomic_path, write_json_atomic
from sublim.core.stats import compare, estimate
from sublim.mnist.config import MnistParams
from sublim.mnist.experiment import ARMS, MainRun, Sweep

PAPER_VALUES = Path(__file__).parents[1] / "data" / "paper_mnist.csv"


# ---------------------------------------------------------------- metrics and tables of one run


def arm_metrics(main: MainRun) -> dict[str, Any]:
    """estimate() per arm, and the paired comparisons the figure's claims rest on (paired by teacher)."""
    acc = main.accuracies
    return {
        "arms": {arm: estimate(acc[arm]) for arm in ARMS},
        "comparisons": {
            "student_aux_minus_xmodel_aux": compare(acc["student_aux"], acc["xmodel_aux"], paired=True),
            "student_aux_minus_reference": compare(acc["student_aux"], acc["reference"], paired=True),
            "xmodel_aux_minus_reference": compare(acc["xmodel_aux"], acc["reference"], paired=True),
            "student_all_minus_xmodel_all": compare(acc["student_all"], acc["xmodel_all"], paired=True),
        },
    }


def sweep_metrics(sweep: Sweep) -> dict[str, dict[str, Any]]:
    return {str(v): {arm: estimate(a) for arm, a in sweep.accuracies[v].items()} for v in sweep.values}


def sweep_table(sweep: Sweep) -> pd.DataFrame:
    """Wide summary, one row per value: <arm> (mean), <arm>_ci_low, <arm>_ci_high, n."""
    rows = []
    for value in sweep.values:
        row: dict[str, Any] = {sweep.name: value}
        for arm, values in sweep.accuracies[value].items():
            est = estimate(values)
            row.update({arm: est["mean"], f"{arm}_ci_low": est["ci95"][0], f"{arm}_ci_high": est["ci95"][1]})
            row["n"] = est["n"]
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_models_table(sweep: Sweep) -> pd.DataFrame:
    rows = [
        {sweep.name: value, "arm": arm, "model": i, "accuracy": float(a)}
        for value in sweep.values
        for arm, values in sweep.accuracies[value].items()
        for i, a in enumerate(values)
    ]
    return pd.DataFrame(rows)


def models_table(main: MainRun) -> pd.DataFrame:
    table = pd.DataFrame({"model": range(len(main.xmodel_init)), **{arm: main.accuracies[arm] for arm in ARMS}})
    table.insert(1, "xmodel_init", main.xmodel_init)
    return table


# ---------------------------------------------------------------- files


def write_csv(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def write_outputs(cfg: MnistParams, main: MainRun, sweeps: Sequence[Sweep], results_dir: Path | str) -> dict:
    """metrics.json, models.csv, sweeps/*.csv (summaries, the DVC plots) and sweep_models/*.csv (one row per
    model): no timings (they differ between runs of the same params; they are in the run record)."""
    results_dir = Path(results_dir)
    metrics = {
        **arm_metrics(main),
        "sweeps": {sweep.name: sweep_metrics(sweep) for sweep in sweeps},
        "settings": cfg.model_dump(mode="json"),
        "precision": main.precision,  # mnist.precision as it ran ('auto' resolved for the machine)
        "xmodel_init": main.xmodel_init,
    }
    write_json_atomic(results_dir / "metrics.json", metrics)
    write_csv(models_table(main), results_dir / "models.csv")
    for sweep in sweeps:
        write_csv(sweep_table(sweep), results_dir / "sweeps" / f"{sweep.name}.csv")
        write_csv(sweep_models_table(sweep), results_dir / "sweep_models" / f"{sweep.name}.csv")
    return metrics


# ---------------------------------------------------------------- beside the paper


def paper_values(path: Path | str = PAPER_VALUES) -> pd.DataFrame:
    """The paper's Fig. 10 values as read off the figure (not published as numbers)."""
    return pd.read_csv(path, comment="#")


def summary_table(metrics: dict, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per arm: our mean and 95% CI beside the paper's value."""
    paper = paper if paper is not None else paper_values()
    paper_by_arm = dict(zip(paper["arm"], paper["accuracy"], strict=True))
    rows = []
    for arm in ARMS:
        est = metrics["arms"][arm]
        rows.append(
            {
                "arm": arm,
                "mean": est["mean"],
                "ci95_low": est["ci95"][0],
                "ci95_high": est["ci95"][1],
                "n": est["n"],
                "paper (read off Fig. 10)": paper_by_arm.get(arm),
            }
        )
    return pd.DataFrame(rows).set_index("arm")


def comparison_table(metrics: dict) -> pd.DataFrame:
    """The paired differences (per teacher) with their 95% CI and p-value."""
    rows = []
    for name, result in metrics["comparisons"].items():
        diff = result["difference"]
        rows.append(
            {
                "comparison": name.replace("_minus_", " - "),
                "difference": diff["mean"],
                "ci95_low": diff["ci95"][0],
                "ci95_high": diff["ci95"][1],
                "p_value": result["p_value"],
                "n": diff["n"],
            }
        )
    return pd.DataFrame(rows).set_index("comparison")
