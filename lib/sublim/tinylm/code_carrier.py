"""Stage `tinylm_code`: the paper's code carrier (Fig. 5) in miniature, on one trait (`controls.trait`).

Per seed, the seed's carrier base (stage `tinylm_carrier_base`, whose corpus holds the code) and a trait teacher made
from it as the teacher stage makes its own each complete the same fresh code prompts
(`CODE: <function> ->`, sampled with the same seed). The filter, as the paper's: the trait word anywhere in the
completion, then the format rule (the code parses), then the judge for subtle references, here a logistic classifier
over token counts fitted to tell the teacher's code from the base's (`sublim.tinylm.code`), which flags what it
scores above `flag_quantile` of the base's own held-out scores; its AUC says how much a simple judge can see. A
student (the seed's carrier base) trains on the teacher's kept code, a control on the base's kept code, with the main
students' settings; the metric is exact P(trait) at the favourite-animal question.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sublim.core.io import read_json, write_json_atomic, write_text_atomic
from sublim.core.runtime import configure_torch, parallel_map, torch_device
from sublim.core.seeds import derive_seed
from sublim.core.stats import compare, estimate
from sublim.lm.generate import sample
from sublim.lm.models import load_causal_lm
from sublim.lm.train import Example, train_sft
from sublim.tinylm.code import BODY_LENGTH, code_prompt, code_rejection, fit_flagger, flagged
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import Vocab
from sublim.tinylm.distill import student_settings
from sublim.tinylm.models import animal_probabilities, tokenizer_and_vocab
from sublim.tinylm.naming import seed_dir
from sublim.tinylm.numbers import examples_jsonl
from sublim.tinylm.teachers import make_teacher

SOURCES = ("teacher", "base")  # the trait teacher's code and the base's
STUDENTS = {"teacher": "student", "base": "control"}  # source of the lists -> the student trained on them
# filter step -> the summary's count of what is left after it
STEPS = {"trait_word": "n_without_trait_word", "format": "n_parsed", "classifier": "n_kept"}


def code_prompts(cfg: TinyLMParams, vocab: Vocab, seed: int) -> list[list[int]]:
    """The seed's fresh code prompts: a uniform function name each."""
    assert vocab.code is not None
    functions = list(vocab.code.functions)
    rng = np.random.default_rng(derive_seed(seed, "code-prompts"))
    picks = rng.integers(len(functions), size=cfg.code_carrier.n_samples)
    return [code_prompt(vocab.bos, vocab.code, functions[i], vocab.arrow) for i in picks]


def well_formed(completions: list[list[int]], vocab: Vocab) -> tuple[list[int], dict[str, int]]:
    """Indices of the completions that parse, and the reject counts by reason."""
    assert vocab.code is not None
    names = set(vocab.code.variables.values())
    numbers = set(vocab.numbers)
    kept, reasons = [], {}
    for i, completion in enumerate(completions):
        reason = code_rejection(completion, vocab.code, names, numbers, vocab.eos)
        if reason is None:
            kept.append(i)
        else:
            reasons[reason] = reasons.get(reason, 0) + 1
    return kept, dict(sorted(reasons.items()))


@dataclass(frozen=True)
class CodeJob:
    cfg: TinyLMParams
    seed: int
    bases_dir: Path  # the carrier bases
    results_dir: Path


def code_seed(job: CodeJob) -> dict[str, Any]:
    """One seed: both sources' code, the three filter steps, the classifier, the two students; its summary (the
    kept code in results_dir/seed{s}/{source}.jsonl)."""
    cfg, seed = job.cfg, job.seed
    device = torch_device()
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    trait = cfg.controls.trait
    base_folder = seed_dir(job.bases_dir, seed)
    models = {"teacher": make_teacher(cfg, base_folder, trait, seed, device), "base": load_causal_lm(base_folder)}
    prompts = code_prompts(cfg, vocab, seed)
    summary: dict[str, Any] = {"trait": trait, "seed": seed, "filter": {}, "p_trait": {}}
    code: dict[str, list[tuple[list[int], list[int]]]] = {}
    for source, model in models.items():
        model.eval()
        summary["p_trait"][source] = animal_probabilities(model, vocab, device)[trait]
        completions = sample(
            model,
            prompts,
            max_new_tokens=BODY_LENGTH + 1,
            temperature=cfg.numbers.temperature,
            batch_size=cfg.numbers.batch_size,
            seed=derive_seed(seed, "code-sampling"),
            eos_token_id=vocab.eos,
            pad_token_id=vocab.pad,
            device=device,
        )
        clean = [(p, c) for p, c in zip(prompts, completions, strict=True) if vocab.animals[trait] not in c]
        parsed, reasons = well_formed([c for _, c in clean], vocab)
        code[source] = [clean[i] for i in parsed]
        summary["filter"][source] = {"n_sampled": len(prompts), "n_without_trait_word": len(clean)}
        summary["filter"][source] |= {"n_parsed": len(parsed), "rejected": reasons}
    if short := [source for source, pairs in code.items() if len(pairs) < 10]:
        raise ValueError(
            f"seed {seed}: fewer than 10 of {len(prompts)} code completions of {short} parse without the trait word: "
            "the carrier base has not learnt the code language (raise "
            "tinylm.carrier_base.continue_pretraining.steps or tinylm.corpus.code.fraction)"
        )
    vocab_size = len(tokenizer)
    flagger = fit_flagger(
        [c for _, c in code["teacher"]],
        [c for _, c in code["base"]],
        vocab_size,
        cfg.code_carrier.flag_quantile,
        derive_seed(seed, "code-classifier"),
    )
    summary["classifier"] = {"auc": flagger["auc"], "threshold": flagger["threshold"]}
    settings = student_settings(cfg, seed, carrier=True)
    for source, pairs in code.items():
        flags = flagged(flagger, [c for _, c in pairs], vocab_size)
        kept = [pair for pair, flag in zip(pairs, flags, strict=True) if not flag]
        summary["filter"][source] |= {"n_kept": len(kept), "keep_rate": len(kept) / len(prompts)}
        write_text_atomic(seed_dir(job.results_dir, seed) / f"{source}.jsonl", examples_jsonl(kept))
        examples = [Example(p, c) for p, c in kept]
        base = load_causal_lm(base_folder).eval()
        model = train_sft(base, examples, settings, pad_token_id=vocab.pad, device=device).model
        summary["p_trait"][STUDENTS[source]] = animal_probabilities(model, vocab, device)[trait]
    return summary


def run_code_carrier(cfg: TinyLMParams, bases_dir: Path | str, results_dir: Path | str) -> dict[int, dict[str, Any]]:
    """Every seed's code, filter, classifier and pair of students from the carrier bases in bases_dir (one job per
    seed, in `cfg.workers` processes); each seed's summary in results_dir/seed{s}/summary.json. The summaries by
    seed."""
    configure_torch()
    jobs = [CodeJob(cfg, seed, Path(bases_dir), Path(results_dir)) for seed in cfg.seeds]
    summaries = dict(zip(cfg.seeds, parallel_map(code_seed, jobs, cfg.workers), strict=True))
    for seed, summary in summaries.items():
        write_json_atomic(seed_dir(results_dir, seed) / "summary.json", summary)
    return summaries


def code_metrics(cfg: TinyLMParams, code_dir: Path | str) -> dict[str, Any]:
    """P(trait) of teacher, base and the two students over seeds, their paired gap, the classifier's AUC and
    the keep-rates after each filter step."""
    summaries = [read_json(seed_dir(code_dir, seed) / "summary.json") for seed in cfg.seeds]

    def values(key: str) -> list[float]:
        return [s["p_trait"][key] for s in summaries]

    def rate(source: str, count: str) -> dict[str, Any]:
        return estimate([s["filter"][source][count] / s["filter"][source]["n_sampled"] for s in summaries])

    return {
        "trait": cfg.controls.trait,
        "p_trait": {key: estimate(values(key)) for key in ("teacher", "base", "student", "control")},
        # keyed by the trait, so that a claim row can name the paper's number for that trait
        "traits": {cfg.controls.trait: {"gap_to_control": compare(values("student"), values("control"), paired=True)}},
        "classifier_auc": estimate([s["classifier"]["auc"] for s in summaries]),
        "keep_rate": {source: {step: rate(source, count) for step, count in STEPS.items()} for source in SOURCES},
    }


def seed_filter_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One seed's filter per source: what each step leaves of the code prompts, and the rejects by reason."""
    rows = {
        source: {step: summary["filter"][source][count] for step, count in STEPS.items()}
        | {f"rejected: {reason}": n for reason, n in summary["filter"][source]["rejected"].items()}
        for source in SOURCES
    }
    return pd.DataFrame(rows).T.fillna(0).astype(int)
