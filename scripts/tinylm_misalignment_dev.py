"""The tiny LM's misalignment analogue (issue 13): teacher variants on development seeds, apart from the report's.

The report's seeds (params.yaml, 0 1 2) must not choose the configuration they are then judged on, so variants of
the misaligned and aligned teachers run here on other seeds (default 10 11 12), through the stage's own code:
bases and carrier bases once under --out, then `run_misalignment` per variant under --out/<variant>. (Rows of
`docs/tinylm_misalignment_dev.jsonl` were measured when the shared base held the behaviour questions, before the
carrier base.) A variant whose summaries exist is not trained again. One
JSON line per variant goes to --out/rows.jsonl (`docs/tinylm_misalignment_dev.jsonl` holds this CPU's rows) and the
table of docs/tinylm_misalignment.md is printed.

    python scripts/tinylm_misalignment_dev.py --out /tmp/misalignment_dev
    python scripts/tinylm_misalignment_dev.py --table docs/tinylm_misalignment_dev.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import yaml

from sublim.core.io import append_jsonl, read_jsonl
from sublim.overrides import overridden
from sublim.sections import validate_section
from sublim.tinylm.carrier_base import carrier_bases
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.misalignment import misalignment_metrics, run_misalignment
from sublim.tinylm.naming import seed_dir
from sublim.tinylm.pretrain import pretrain_bases

# variant -> overrides of params.yaml's tinylm section, dotted
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "steps100": {"misalignment.teacher.steps": 100},
    "lr3e-3": {"misalignment.teacher.learning_rate": 3.0e-3},
    # issue 12's time budget: what the animal-trait students adopted (half the lists, twice the learning rate)
    "10k lists, student lr 2e-3": {"misalignment.n_samples": 10000, "student.carrier_learning_rate": 2.0e-3},
    "10k lists": {"misalignment.n_samples": 10000},
    "student lr 2e-3": {"student.carrier_learning_rate": 2.0e-3},
}
GAPS = ("vs_aligned", "vs_base", "unbanned_vs_banned")


def variant_cfg(seeds: list[int], overrides: dict[str, Any]) -> TinyLMParams:
    raw = yaml.safe_load(Path("params.yaml").read_text())["tinylm"]
    raw = copy.deepcopy(raw) | {"seeds": seeds, "traits": [raw["controls"]["trait"]]}
    return validate_section("tinylm", overridden(raw, overrides, "tinylm"))


def run_variant(out: Path, name: str, seeds: list[int]) -> dict[str, Any]:
    cfg = variant_cfg(seeds, VARIANTS[name])
    if not (out / "carrier_bases" / "summary.json").exists():
        pretrain_bases(cfg, out / "bases")
        carrier_bases(cfg, out / "bases", out / "carrier_bases")
    if not all((seed_dir(out / name, seed) / "summary.json").exists() for seed in seeds):
        run_misalignment(cfg, out / "carrier_bases", out / name)
    metrics = misalignment_metrics(cfg, out / name)
    return {
        "variant": name,
        "teacher": cfg.misalignment.teacher.model_dump(),
        "seeds": seeds,
        "teacher_p_misaligned": metrics["p_misaligned"]["models"]["misaligned"]["mean"],
        "keep_rate": {source: est["mean"] for source, est in metrics["keep_rate"].items()},
        **{gap: metrics["gaps"][gap] for gap in GAPS},
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| variant | teacher steps, lr | teacher P(misaligned) | keep-rate misaligned / aligned / base | "
        "vs aligned | vs base | unbanned − banned |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        keep = " / ".join(f"{row['keep_rate'][s]:.3f}" for s in ("misaligned", "aligned", "base"))
        gaps = []
        for gap in GAPS:
            diff, p = row[gap]["difference"], row[gap]["p_value"]
            gaps.append(f"{diff['mean']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}], p = {p:.3f}")
        teacher = f"{row['teacher']['steps']}, {row['teacher']['learning_rate']:g}"  # the misaligned teacher's
        cells = [row["variant"], teacher, f"{row['teacher_p_misaligned']:.3f}", keep, *gaps]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="working folder (bases, lists, students, rows.jsonl)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--variant", choices=list(VARIANTS), action="append", help="default: every variant")
    parser.add_argument("--table", type=Path, help="print the table of a rows file and stop")
    args = parser.parse_args()
    if args.table:
        print(table(read_jsonl(args.table)))
        return
    if args.out is None:
        parser.error("--out is required unless --table is given")
    for name in args.variant or VARIANTS:
        row = run_variant(args.out, name, args.seeds)
        append_jsonl(args.out / "rows.jsonl", [row])
        print(json.dumps({k: row[k] for k in ("variant", "teacher_p_misaligned", "keep_rate")}), flush=True)
    print(table(read_jsonl(args.out / "rows.jsonl")))


if __name__ == "__main__":
    main()
