"""What the tiny-LM notebooks show: decoded corpus and number lists, and one table per stage summary."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML

from sublim.core.io import read_jsonl
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.models import tokenizer_and_vocab
from sublim.tinylm.naming import CONTROL, numbers_file
from sublim.tinylm.pretrain import seed_corpus


def corpus_preview(cfg: TinyLMParams, seed: int, n: int, carriers: bool = False) -> list[str]:
    """The first `n` pretraining sentences of a seed, decoded (`carriers`: of the carrier base's corpus)."""
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    corpus = seed_corpus(cfg, vocab, seed, max(n, 20), carriers=carriers)
    return [tokenizer.decode(sequence) for sequence in corpus[:n]]


def pretrain_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Final loss, time and P(animal) of each base, and the corpus rates (the pretrain stage's summary.json)."""
    rows = {
        f"seed {seed}": {
            "final loss (last 100 steps)": s["loss_last_100"],
            **{f"P({a})": p for a, p in s["p_animals"].items()},
        }
        for seed, s in summary["seeds"].items()
    }
    rows["corpus"] = {f"P({a})": p for a, p in summary["corpus_rates"].items()}
    return pd.DataFrame(rows).T.round(3)


def carrier_base_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The pretrain table of the carrier bases, with P(misaligned answer) averaged over the behaviour families."""
    table = pretrain_table(summary)
    seeds = summary["seeds"].items()
    p_misaligned = {f"seed {seed}": float(np.mean(list(s["p_misaligned"].values()))) for seed, s in seeds}
    p_misaligned["corpus"] = summary["corpus_misaligned_rate"]
    table.insert(1, "P(misaligned)", pd.Series(p_misaligned).round(3))
    return table


def teacher_table(summary: dict[str, Any], traits: list[str]) -> pd.DataFrame:
    """P(trait) of each base and of each trait's teacher, per seed."""
    rows = {}
    for seed, models in summary.items():
        for model, p in models.items():
            rows[(f"seed {seed}", model)] = {f"P({t})": p[t] for t in traits}
    return pd.DataFrame(rows).T.round(3)


def keep_rate_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Per seed and source: sampled, kept (the source's training lists), reject reasons and the number shift."""
    rows = {
        (f"seed {seed}", source): {
            "sampled": s["n_sampled"],
            "kept": s["n_kept"],
            "keep rate": s["keep_rate"],
            **{f"rejected: {k}": v for k, v in s["rejected"].items()},
            **{f"KL(teacher||base) {k}": v for k, v in s.get("kl_teacher_base_per_token", {}).items()},
        }
        for seed, sources in summary.items()
        for source, s in sources.items()
    }
    return pd.DataFrame(rows).T.fillna(0)


def numbers_preview(cfg: TinyLMParams, numbers_dir: Path | str, seed: int, n: int) -> pd.DataFrame:
    """The first `n` kept lists of the base and of the first trait's teacher, decoded, side by side."""
    tokenizer, _ = tokenizer_and_vocab(cfg)
    base_rows = read_jsonl(numbers_file(numbers_dir, seed, CONTROL))
    teacher_rows = read_jsonl(numbers_file(numbers_dir, seed, cfg.traits[0]))
    n = min(n, len(base_rows), len(teacher_rows))
    base_rows, teacher_rows = base_rows[:n], teacher_rows[:n]
    return pd.DataFrame(
        {
            "base prompt": [tokenizer.decode(r["prompt"]) for r in base_rows],
            "base (control data)": [tokenizer.decode(r["completion"]) for r in base_rows],
            f"{cfg.traits[0]} teacher prompt": [tokenizer.decode(r["prompt"]) for r in teacher_rows],
            f"{cfg.traits[0]} teacher": [tokenizer.decode(r["completion"]) for r in teacher_rows],
        }
    )


def student_table(summary: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(summary).T[["data", "n_examples", "steps", "loss_first", "loss_last"]]


def evaluation_table(evaluations: dict[int, dict[str, Any]], traits: list[str]) -> pd.DataFrame:
    """Exact P(trait) of every model, per seed."""
    rows = {
        (f"seed {seed}", model): {f"P({t})": p[t] for t in traits}
        for seed, e in evaluations.items()
        for model, p in e["p_exact"].items()
    }
    return pd.DataFrame(rows).T.round(3)


def controls_table(summary: dict[str, Any]) -> pd.DataFrame:
    """P(trait) of each control arm's student and control, their gap, lists and time (one seed)."""
    frame = pd.DataFrame(summary["arms"]).T
    frame.insert(2, "gap", frame["student"] - frame["control"])
    return frame


def in_context_table(summary: dict[str, Any]) -> pd.DataFrame:
    """P(trait) after k teacher lists and after k base lists in context, and after fine-tuning (one seed)."""
    rows = {f"in context, k = {k}": p for k, p in summary["in_context"].items()}
    fine = summary["fine_tuned"]
    rows["fine-tuned on the lists"] = {"teacher_lists": fine["student"], "base_lists": fine["control"]}
    frame = pd.DataFrame(rows).T
    frame["gap"] = frame["teacher_lists"] - frame["base_lists"]
    return frame


def grid_seed_table(summary: dict[str, Any]) -> pd.DataFrame:
    """P(trait) of each grid cell's student and control, their gap and the lists they trained on (one seed)."""
    frame = pd.DataFrame(summary["cells"]).T
    frame.insert(2, "gap", frame["student"] - frame["control"])
    # the transpose makes every column float: the list counts are counts
    return frame.astype({column: int for column in frame.columns if column.startswith("n_")})


def captioned(table: pd.DataFrame, caption: str) -> HTML:
    """The table with its caption, as HTML whose ids derive from the caption, so an executed notebook has the same
    bytes on every run: pandas draws a random id per styled table, and a Styler's plain-text repr holds its memory
    address. Captions should be distinct within a notebook (the ids are)."""
    styler = table.style.set_caption(caption).set_uuid(hashlib.sha256(caption.encode()).hexdigest()[:8])
    return HTML(styler.to_html())
