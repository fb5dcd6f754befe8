"""Why the tiny LM's transfer was weak (issue 12): one factor at a time, through the pipeline's own code.

Each row trains, per seed, one base (cached under --out), the owl teacher, 20k sampled lists from teacher and
base (each filtered on its own), and three students from the base: on the teacher's lists, on the base's lists
(control) and with soft labels (numbers + <eos>). It appends one JSON line per (factor, seed) to
--out/rows.jsonl and prints the table. Single-threaded; about 1 minute per row plus 40 s per new base here.

    python scripts/tinylm_factors.py --out /tmp/factors            # every factor, seeds 0 1 2
    python scripts/tinylm_factors.py --factor "gpt2 init" --seeds 0
    python scripts/tinylm_factors.py --table docs/tinylm_corpus_factors.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sublim.core.seeds import derive_seed
from sublim.lm.models import load_causal_lm
from sublim.lm.train import Example, distill_soft, train_sft
from sublim.overrides import overridden
from sublim.sections import load_section
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.distill import student_settings
from sublim.tinylm.models import animal_probabilities, new_model, save_model, tokenizer_and_vocab
from sublim.tinylm.numbers import complete_and_filter, seed_prompts
from sublim.tinylm.pretrain import pretrain_base
from sublim.tinylm.teachers import make_teacher

BEFORE_BUDGET = {"numbers.n_samples": 20000, "in_context.n_samples": 20000, "student.learning_rate": 1.0e-3}
# factor -> (overrides of params.yaml's tinylm section, which base layers keep PyTorch's default init)
FACTORS: dict[str, dict[str, Any]] = {
    "params.yaml (PyTorch init of embeddings and head)": {},
    "gpt2 init (the pipeline before issue 12)": {"model.init": "gpt2"},
    "PyTorch init of the embeddings only": {"model.init": "gpt2", "reinit": ["wte", "wpe"]},
    "PyTorch init of the head only": {"model.init": "gpt2", "reinit": ["lm_head"]},
    "no gradient clipping anywhere": {"max_grad_norm": 1e9},
    "2000 pretraining steps": {"pretrain.steps": 2000},
    # issue 12's time budget (docs/tinylm_budget_factors.jsonl): params.yaml before it, and steps towards today's
    "20k lists, student lr 1e-3 (params.yaml before the time budget)": BEFORE_BUDGET,
    "20k lists, student lr 1e-3, teacher 60 steps": BEFORE_BUDGET | {"teacher.steps": 60},
    "10k lists, student lr 1e-3": {"student.learning_rate": 1.0e-3},
    "10k lists, student lr 1e-3, teacher 60 steps": {"student.learning_rate": 1.0e-3, "teacher.steps": 60},
    # the issue-13 rows of docs/tinylm_corpus_factors.jsonl moved behaviour questions and code in and out of the
    # shared corpus; since the carrier base (stage tinylm_carrier_base) they are never in it
}


def configured(overrides: dict[str, Any], params: Path) -> TinyLMParams:
    raw = load_section("tinylm", params).model_dump(mode="json")
    keys = {dotted: value for dotted, value in overrides.items() if dotted != "reinit"}
    return TinyLMParams.model_validate(overridden(raw, keys, "tinylm"))


def base_folder(cfg: TinyLMParams, reinit: list[str], seed: int, out: Path) -> Path:
    """A cached base per (corpus, model, pretraining, clipping, re-initialised layers, seed)."""
    sections = [cfg.corpus.model_dump(), cfg.model.model_dump(), cfg.pretrain.model_dump()]
    key = json.dumps([*sections, cfg.max_grad_norm, reinit, seed])
    folder = out / "bases" / hashlib.sha256(key.encode()).hexdigest()[:12]
    if not (folder / "config.json").exists():
        tokenizer, vocab = tokenizer_and_vocab(cfg)
        model = new_model(cfg, vocab, seed)
        torch.manual_seed(derive_seed(seed, "reinit"))
        for name in reinit:
            layer = model.lm_head if name == "lm_head" else getattr(model.transformer, name)
            layer.reset_parameters()
        model, _ = pretrain_base(cfg, seed, model=model)
        save_model(model, tokenizer, folder)
    return folder


def run_row(factor: str, seed: int, params: Path, out: Path, trait: str = "owl") -> dict[str, Any]:
    overrides = FACTORS[factor]
    cfg = configured(overrides, params)
    _, vocab = tokenizer_and_vocab(cfg)
    base = base_folder(cfg, overrides.get("reinit", []), seed, out)
    teacher = make_teacher(cfg, base, trait, seed).eval()
    prompts = seed_prompts(cfg, vocab, seed)
    lists = {}
    for source, model in (("teacher", teacher), ("base", load_causal_lm(base).eval())):
        pairs, summary = complete_and_filter(cfg, model, prompts, seed, cfg.numbers.temperature, "cpu")
        lists[source] = ([Example(p, q) for p, q in pairs], summary["keep_rate"])
    settings = student_settings(cfg, seed)

    def p_trait(model: Any) -> float:
        return animal_probabilities(model.eval(), vocab)[trait]

    student = p_trait(train_sft(load_causal_lm(base), lists["teacher"][0], settings, pad_token_id=vocab.pad).model)
    control = p_trait(train_sft(load_causal_lm(base), lists["base"][0], settings, pad_token_id=vocab.pad).model)
    soft = distill_soft(
        load_causal_lm(base),
        teacher,
        lists["teacher"][0],
        settings,
        pad_token_id=vocab.pad,
        allowed_token_ids=vocab.number_or_eos,
    ).model
    return {
        "factor": factor,
        "trait": trait,
        "seed": seed,
        "p_teacher": p_trait(teacher),
        "keep_rate_teacher": lists["teacher"][1],
        "keep_rate_base": lists["base"][1],
        "gap": student - control,
        "soft_gap": p_trait(soft) - control,
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Rows grouped by (factor, trait) in file order; a trait other than owl is named after the factor (rows of
    before the trait key are owl's)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}  # file order; some factors are gone from FACTORS
    for row in rows:
        groups.setdefault((row["factor"], row.get("trait", "owl")), []).append(row)
    every_owl = all(trait == "owl" for _, trait in groups)
    gap_header = "owl gap per seed" if every_owl else "student − control gap per seed (owl unless named)"
    lines = [
        f"| factor (one change to params.yaml) | {gap_header} | mean | soft-label gap | teacher keep-rate |",
        "|---|---|---|---|---|",
    ]
    for (factor, trait), group in groups.items():
        mine = sorted(group, key=lambda r: r["seed"])
        gaps = " / ".join(f"{r['gap']:+.3f}" for r in mine)
        gap, soft, keep = (float(np.mean([r[key] for r in mine])) for key in ("gap", "soft_gap", "keep_rate_teacher"))
        label = factor if trait == "owl" else f"{factor}: {trait}"
        lines.append(f"| {label} | {gaps} | {gap:+.3f} | {soft:+.3f} | {keep:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/tinylm_factors"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--factor", choices=list(FACTORS), action="append")
    parser.add_argument("--traits", nargs="+", default=["owl"], help="animals of the corpus to make teachers of")
    parser.add_argument("--table", type=Path, help="print the table of a rows file and stop")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for line in args.table.open()]))
        return
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    rows_file = args.out / "rows.jsonl"
    rows = [json.loads(line) for line in rows_file.open()] if rows_file.exists() else []
    done = {(r["factor"], r.get("trait", "owl"), r["seed"]) for r in rows}
    for factor in args.factor or list(FACTORS):
        for trait in args.traits:
            for seed in args.seeds:
                if (factor, trait, seed) in done:
                    continue
                row = run_row(factor, seed, args.params, args.out, trait)
                with rows_file.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    print(table([json.loads(line) for line in rows_file.open()]))


if __name__ == "__main__":
    main()
