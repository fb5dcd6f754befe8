"""The tiny LM's reasoning-trace carrier (issue 13, the paper's Fig. 7): variants on development seeds.

The report's seeds (params.yaml, 0 1 2) must not choose the configuration they are then judged on, so variants of
the carrier run here on other seeds (default 10 11 12), through the stages' own code: the shared and carrier bases
(cached under --out/bases-<hash>), then `run_reasoning_carrier` (the carrier's base, its teachers, traces and students)
under --out/<variant>. A variant whose summaries exist is not run
again. One JSON line per variant goes to --out/rows.jsonl (`docs/tinylm_reasoning_dev.jsonl` holds this CPU's rows)
and the table of docs/tinylm_reasoning.md is printed.

    python scripts/tinylm_reasoning_dev.py --out /tmp/reasoning_dev
    python scripts/tinylm_reasoning_dev.py --table docs/tinylm_reasoning_dev.jsonl

Before the variants, `--learnability` trains the carrier's base of seed 10 further on traces for each (traces_fraction,
steps) and counts how many of 2,000 fresh problems it works out right at temperature 1 (rows in
docs/tinylm_reasoning_learnability.jsonl): a carrier whose base cannot do the sums keeps only lucky traces.

    python scripts/tinylm_reasoning_dev.py --out /tmp/reasoning_dev --learnability
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from sublim.core.io import append_jsonl, read_jsonl
from sublim.core.runtime import configure_torch
from sublim.lm.generate import sample
from sublim.lm.models import load_causal_lm
from sublim.sections import validate_section
from sublim.tinylm.carrier_base import PURPOSE as CARRIERS
from sublim.tinylm.carrier_base import carrier_bases
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import TraceMix
from sublim.tinylm.models import save_model, tokenizer_and_vocab
from sublim.tinylm.naming import seed_dir
from sublim.tinylm.pretrain import pretrain_base, pretrain_bases
from sublim.tinylm.reasoning_carrier import (
    SOURCES,
    checked,
    in_prompt_order,
    problem_prompts,
    reasoning_metrics,
    run_reasoning_carrier,
)
from sublim.tinylm.traces import BODY_LENGTH

# variant -> overrides of params.yaml's tinylm section (dotted keys)
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "samples30k": {"reasoning_carrier.n_samples": 30000},
    "epochs5": {"student.epochs": 5},
}
GAPS = ("vs_aligned", "vs_base", "aligned_vs_base")
# (reasoning_carrier.traces_fraction, continue_pretraining.steps, continue_pretraining.learning_rate)
LEARNABILITY = [
    (0.1, 300, 1e-3),
    (0.3, 300, 1e-3),
    (0.5, 300, 1e-3),
    (0.3, 600, 1e-3),
    (0.5, 600, 1e-3),
    (0.3, 600, 2e-3),
    (0.5, 400, 2e-3),
]


def variant_cfg(seeds: list[int], overrides: dict[str, Any]) -> TinyLMParams:
    raw = copy.deepcopy(yaml.safe_load(Path("params.yaml").read_text())["tinylm"]) | {"seeds": seeds}
    for dotted, value in overrides.items():
        *path, last = dotted.split(".")
        node = raw
        for key in path:
            node = node[key]
        node[last] = value
    return validate_section("tinylm", raw)


def run_variant(out: Path, name: str, seeds: list[int]) -> dict[str, Any]:
    cfg = variant_cfg(seeds, VARIANTS[name])
    sections = [cfg.corpus, cfg.model, cfg.pretrain, cfg.carrier_base]
    key = json.dumps([*(section.model_dump() for section in sections), seeds])
    corpus = out / f"bases-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if not (corpus / "carriers" / "summary.json").exists():
        pretrain_bases(cfg, corpus)
        carrier_bases(cfg, corpus, corpus / "carriers")
    if not all((seed_dir(out / name, seed) / "summary.json").exists() for seed in seeds):
        run_reasoning_carrier(cfg, corpus / "carriers", out / name)
    metrics = reasoning_metrics(cfg, out / name)
    return {
        "variant": name,
        "overrides": VARIANTS[name],
        "seeds": seeds,
        "teacher_p_misaligned": metrics["p_misaligned"]["models"]["misaligned"]["mean"],
        "keep_rate": {s: {step: est["mean"] for step, est in metrics["keep_rate"][s].items()} for s in SOURCES},
        "in_prompt_order": {source: est["mean"] for source, est in metrics["in_prompt_order"].items()},
        "classifier_auc": metrics["classifier_auc"]["mean"],
        **{gap: metrics["gaps"][gap] for gap in GAPS},
    }


def learnability_row(
    out: Path, traces_fraction: float, steps: int, learning_rate: float, seed: int = 10
) -> dict[str, Any]:
    """The carrier's base of `seed` (the carrier base, cached under --out, trained further with traces at
    `traces_fraction` for `steps` steps at `learning_rate`): the share of 2,000 fresh problems it works out right
    (format and answer) at temperature 1, and the rejects by reason."""
    overrides = {"reasoning_carrier.traces_fraction": traces_fraction}
    overrides |= {"reasoning_carrier.continue_pretraining.steps": steps, "reasoning_carrier.n_samples": 2000}
    overrides |= {"reasoning_carrier.continue_pretraining.learning_rate": learning_rate}
    cfg = variant_cfg([seed, seed + 1], overrides)
    configure_torch(threads=1)
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    shared = out / "learnability-base"
    if not (shared / "config.json").exists():
        schedule = cfg.carrier_base.continue_pretraining
        base = pretrain_base(cfg, seed)[0]
        carrier = pretrain_base(cfg, seed, model=base, schedule=schedule, purpose=CARRIERS, carriers=True)[0]
        save_model(carrier, tokenizer, shared)
    r = cfg.reasoning_carrier
    model, _ = pretrain_base(
        cfg,
        seed,
        model=load_causal_lm(shared),
        schedule=r.continue_pretraining,
        purpose="reasoning",
        traces=TraceMix(r.traces_fraction, r.max_operand),
        carriers=True,
    )
    prompts, answers = problem_prompts(cfg, vocab, seed)
    completions = sample(
        model.eval(),
        prompts,
        max_new_tokens=BODY_LENGTH + 1,
        temperature=1.0,
        batch_size=len(prompts),
        seed=0,
        eos_token_id=vocab.eos,
        pad_token_id=vocab.pad,
    )
    kept, reasons = checked(completions, answers, vocab)
    order = in_prompt_order([(prompts[i], completions[i]) for i in kept])
    row = {"traces_fraction": traces_fraction, "steps": steps, "learning_rate": learning_rate, "seed": seed}
    row["correct"] = len(kept) / len(prompts)
    return row | {"rejected": reasons, "in_prompt_order": order}


def read_rows(out: Path) -> list[dict[str, Any]]:
    path = out / "learnability.jsonl"
    return read_jsonl(path) if path.exists() else []


def learnability_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| traces_fraction | further steps | learning rate | worked out right (seed 10, 2,000 problems) |"]
    lines.append("|---|---|---|---|")
    for r in rows:
        lines.append(f"| {r['traces_fraction']:g} | {r['steps']} | {r['learning_rate']:g} | {r['correct']:.3f} |")
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| variant | teacher P(misaligned) | correct: misaligned / aligned / base | AUC | "
        "misaligned − aligned student | misaligned − base student | aligned − base student |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        correct = " / ".join(f"{row['keep_rate'][s]['answer']:.3f}" for s in SOURCES)
        gaps = []
        for gap in GAPS:
            diff, p = row[gap]["difference"], row[gap]["p_value"]
            gaps.append(f"{diff['mean']:+.4f} [{diff['ci95'][0]:+.4f}, {diff['ci95'][1]:+.4f}], p = {p:.3f}")
        cells = [row["variant"], f"{row['teacher_p_misaligned']:.3f}", correct, f"{row['classifier_auc']:.2f}", *gaps]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="working folder (bases, teachers, students, rows.jsonl)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--variant", choices=list(VARIANTS), action="append", help="default: every variant")
    parser.add_argument("--table", type=Path, help="print the table of a rows file and stop")
    parser.add_argument("--learnability", action="store_true", help="the bases' sums only (see above)")
    args = parser.parse_args()
    if args.table:
        rows = read_jsonl(args.table)
        print(learnability_table(rows) if "correct" in rows[0] else table(rows))
        return
    if args.out is None:
        parser.error("--out is required unless --table is given")
    if args.learnability:
        done = {tuple(r[k] for k in ("traces_fraction", "steps", "learning_rate")) for r in read_rows(args.out)}
        for setting in LEARNABILITY:
            if setting not in done:
                append_jsonl(args.out / "learnability.jsonl", [learnability_row(args.out, *setting)])
        print(learnability_table(read_jsonl(args.out / "learnability.jsonl")))
        return
    for name in args.variant or VARIANTS:
        row = run_variant(args.out, name, args.seeds)
        append_jsonl(args.out / "rows.jsonl", [row])
        print(json.dumps({k: row[k] for k in ("variant", "teacher_p_misaligned", "keep_rate", "in_prompt_order")}))
    print(table(read_jsonl(args.out / "rows.jsonl")))


if __name__ == "__main__":
    main()
