"""Stage `tinylm_carrier_base`: the base that the carriers of Figs. 4, 5 and 7 start from.

The shared base (stage `tinylm_pretrain`) learns number lists and animal answers only. Behaviour questions and code
in its corpus took the small model's capacity from the number lists and cut the animal students' gap by about half
(`docs/tinylm_transfer_factors.md`), so they come here instead: per seed, the shared base trained further on the
corpus with behaviour questions and code (`carrier_base.continue_pretraining`, fresh draws). Every tiny-LM
experiment still starts from the one shared base per seed; the misalignment, code and reasoning experiments through
this continuation of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch, parallel_map, torch_device
from sublim.lm.models import load_causal_lm
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.models import p_misaligned, save_model, tokenizer_and_vocab
from sublim.tinylm.naming import seed_dir
from sublim.tinylm.pretrain import base_summary, pretrain_base

PURPOSE = "carriers"  # draws the continuation's own corpus and order


def carrier_seed(job: tuple[TinyLMParams, int, Path, Path]) -> dict[str, Any]:
    """Train one seed's base further and save it as results_dir/seed{s}; its summary row (as the pretrain
    stage's, with P(misaligned) per behaviour family)."""
    cfg, seed, bases_dir, results_dir = job
    device = torch_device()  # threads: the stage's (one process) or the worker's (one each)
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    base = load_causal_lm(seed_dir(bases_dir, seed))
    schedule = cfg.carrier_base.continue_pretraining
    model, losses = pretrain_base(cfg, seed, device, base, schedule=schedule, purpose=PURPOSE, carriers=True)
    save_model(model.cpu(), tokenizer, seed_dir(results_dir, seed))
    return base_summary(model, losses, vocab, device) | {"p_misaligned": p_misaligned(model, vocab, device)}


def carrier_bases(cfg: TinyLMParams, bases_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """Every seed's carrier base in results_dir/seed{s} (the seeds in `cfg.workers` processes); the summary in
    summary.json, laid out as the pretrain stage's."""
    configure_torch()
    jobs = [(cfg, seed, Path(bases_dir), Path(results_dir)) for seed in cfg.seeds]
    rows = parallel_map(carrier_seed, jobs, cfg.workers)
    b = cfg.corpus.behaviour
    weights = np.asarray(cfg.corpus.animal_weights) / np.sum(cfg.corpus.animal_weights)
    summary: dict[str, Any] = {
        "seeds": dict(zip(map(str, cfg.seeds), rows, strict=True)),
        "corpus_rates": dict(zip(cfg.corpus.animals, weights.tolist(), strict=True)),
        "corpus_misaligned_rate": b.misaligned_rate,
    }
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary
