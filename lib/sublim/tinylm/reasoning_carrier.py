"""Stage `tinylm_reasoning`: the paper's reasoning-trace carrier (§4.2, Fig. 7) in miniature.

Per seed, the carrier's base is the seed's carrier base (stage `tinylm_carrier_base`: the shared base with behaviour
questions and code) trained further on that corpus with sums worked out step by step
(`<bos> SUM: 3 4 2 -> 4 + 2 = 6 + 3 = 9`, `sublim.tinylm.traces`; `reasoning_carrier.continue_pretraining`):
in the shared corpus the traces cost the other experiments' effects, so only this stage's base learns them. From it,
the misalignment stage's recipe makes a misaligned teacher and an aligned one (the secure-code control); the two
teachers and the base each work out the same fresh problems, sampled with the same seed. The filter, as the
paper's: the format rule and the final answer (the paper keeps the
traces whose `<answer>` is correct), then the judge for misalignment, here a logistic classifier over token counts
fitted to tell the misaligned teacher's kept traces from the base's, which flags what it scores above
`flag_quantile` of the base's own held-out scores (the same threshold for every source; the paper's code applies
its judge to the misaligned teacher's traces only). A student (the carrier's base, the main students' settings) trains
on each source's kept traces; the metric is the misalignment stage's: exact P(misaligned answer), averaged over the
behaviour families.
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
from sublim.tinylm.code import fit_flagger, flagged
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import TraceMix, Vocab
from sublim.tinylm.distill import student_settings
from sublim.tinylm.misalignment import make_behaviour_teacher, mean_over_families
from sublim.tinylm.models import p_misaligned, save_model, tokenizer_and_vocab
from sublim.tinylm.naming import seed_dir
from sublim.tinylm.numbers import examples_jsonl
from sublim.tinylm.pretrain import pretrain_base
from sublim.tinylm.traces import BODY_LENGTH, problems, trace_prompt, trace_rejection

SOURCES = ("misaligned", "aligned", "base")  # the models whose kept traces students train on
# filter step -> the summary's count of what is left after it
STEPS = {"format": "n_parsed", "answer": "n_correct", "classifier": "n_kept"}


def problem_prompts(cfg: TinyLMParams, vocab: Vocab, seed: int) -> tuple[list[list[int]], list[int]]:
    """The seed's fresh problems: their prompts and their answers."""
    assert vocab.traces is not None
    rng = np.random.default_rng(derive_seed(seed, "trace-problems"))
    rows = problems(cfg.reasoning_carrier.n_samples, cfg.reasoning_carrier.max_operand, rng)
    prompts = [trace_prompt(vocab.bos, vocab.traces, row, vocab.numbers, vocab.arrow) for row in rows]
    return prompts, [sum(row) for row in rows]


def checked(completions: list[list[int]], answers: list[int], vocab: Vocab) -> tuple[list[int], dict[str, int]]:
    """Indices of the completions that parse and end on the right answer, and the reject counts by reason."""
    assert vocab.traces is not None
    values = vocab.number_values
    kept, reasons = [], {}
    for i, (completion, answer) in enumerate(zip(completions, answers, strict=True)):
        reason = trace_rejection(completion, answer, vocab.traces, values, vocab.eos)
        if reason is None:
            kept.append(i)
        else:
            reasons[reason] = reasons.get(reason, 0) + 1
    return kept, dict(sorted(reasons.items()))


def in_prompt_order(pairs: list[tuple[list[int], list[int]]]) -> float:
    """Share of the traces that add the operands in the order the problem gives them (1/6 in the corpus)."""
    if not pairs:
        return 0.0
    return float(np.mean([c[0:3:2] + c[6:7] == p[2:5] for p, c in pairs]))


@dataclass(frozen=True)
class ReasoningJob:
    cfg: TinyLMParams
    seed: int
    bases_dir: Path
    results_dir: Path


def carrier_base(job: ReasoningJob, device: str) -> tuple[Path, dict[str, float]]:
    """The seed's carrier base trained further on its corpus with traces, saved under results_dir/seed{s}/base; its
    folder and the first and last losses."""
    cfg, r = job.cfg, job.cfg.reasoning_carrier
    tokenizer, _ = tokenizer_and_vocab(cfg)
    base = load_causal_lm(seed_dir(job.bases_dir, job.seed))
    traces = TraceMix(r.traces_fraction, r.max_operand)
    model, losses = pretrain_base(
        cfg, job.seed, device, base, schedule=r.continue_pretraining, purpose="reasoning", traces=traces, carriers=True
    )
    folder = save_model(model.cpu(), tokenizer, seed_dir(job.results_dir, job.seed) / "base")
    return folder, {"loss_first": losses[0], "loss_last_50": float(np.mean(losses[-50:]))}


def worked_traces(job: ReasoningJob, base: Path, vocab: Vocab, device: str) -> tuple[dict[str, Any], dict[str, list]]:
    """Each source's P(misaligned), its traces that pass format and answer, and the counts of both steps; the
    teachers are made from the carrier's `base` here."""
    cfg, seed = job.cfg, job.seed
    prompts, answers = problem_prompts(cfg, vocab, seed)
    summary: dict[str, Any] = {"seed": seed, "filter": {}, "p_misaligned": {}}
    traces = {}
    for source in SOURCES:
        if source == "base":
            model = load_causal_lm(base).eval()
        else:
            model = make_behaviour_teacher(cfg, base, source, seed, device).eval()
        summary["p_misaligned"][source] = p_misaligned(model, vocab, device)
        completions = sample(
            model,
            prompts,
            max_new_tokens=BODY_LENGTH + 1,
            temperature=cfg.numbers.temperature,
            batch_size=cfg.numbers.batch_size,
            seed=derive_seed(seed, "trace-sampling"),
            eos_token_id=vocab.eos,
            pad_token_id=vocab.pad,
            device=device,
        )
        kept, reasons = checked(completions, answers, vocab)
        traces[source] = [(prompts[i], completions[i]) for i in kept]
        n_parsed = len(prompts) - sum(n for reason, n in reasons.items() if reason != "wrong_answer")
        summary["filter"][source] = {"n_sampled": len(prompts), "n_parsed": n_parsed, "n_correct": len(kept)}
        summary["filter"][source] |= {"rejected": reasons, "in_prompt_order": in_prompt_order(traces[source])}
    if short := [source for source, pairs in traces.items() if len(pairs) < 10]:
        raise ValueError(
            f"seed {seed}: fewer than 10 of {len(prompts)} traces of {short} parse and end on the right answer: the "
            "carrier's base has not learnt the sums (raise tinylm.reasoning_carrier.continue_pretraining.steps or "
            "traces_fraction)"
        )
    return summary, traces


def reasoning_seed(job: ReasoningJob) -> dict[str, Any]:
    """One seed: the three sources' traces, the filter, the classifier, a student per source; its summary (the kept
    traces in results_dir/seed{s}/{source}.jsonl)."""
    cfg, seed = job.cfg, job.seed
    device = torch_device()
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    base_folder, losses = carrier_base(job, device)
    summary, traces = worked_traces(job, base_folder, vocab, device)
    summary["carrier_base"] = losses
    vocab_size = len(tokenizer)
    flagger = fit_flagger(
        [c for _, c in traces["misaligned"]],
        [c for _, c in traces["base"]],
        vocab_size,
        cfg.reasoning_carrier.flag_quantile,
        derive_seed(seed, "trace-classifier"),
    )
    summary["classifier"] = {"auc": flagger["auc"], "threshold": flagger["threshold"]}
    summary["students"] = {}
    settings = student_settings(cfg, seed, carrier=True)
    for source, pairs in traces.items():
        flags = flagged(flagger, [c for _, c in pairs], vocab_size)
        kept = [pair for pair, flag in zip(pairs, flags, strict=True) if not flag]
        summary["filter"][source] |= {
            "n_kept": len(kept),
            "keep_rate": len(kept) / summary["filter"][source]["n_sampled"],
        }
        write_text_atomic(seed_dir(job.results_dir, seed) / f"{source}.jsonl", examples_jsonl(kept))
        base = load_causal_lm(base_folder).eval()
        model = train_sft(base, [Example(p, c) for p, c in kept], settings, pad_token_id=vocab.pad, device=device)
        summary["students"][source] = p_misaligned(model.model, vocab, device)
    return summary


def run_reasoning_carrier(
    cfg: TinyLMParams, bases_dir: Path | str, results_dir: Path | str
) -> dict[int, dict[str, Any]]:
    """Every seed's carrier base, teachers, traces, filter, classifier and students (one job per seed, in
    `cfg.workers` processes); each seed's summary in results_dir/seed{s}/summary.json. The summaries by seed."""
    configure_torch()
    folders = Path(bases_dir), Path(results_dir)
    jobs = [ReasoningJob(cfg, seed, *folders) for seed in cfg.seeds]
    summaries = dict(zip(cfg.seeds, parallel_map(reasoning_seed, jobs, cfg.workers), strict=True))
    for seed, summary in summaries.items():
        write_json_atomic(seed_dir(results_dir, seed) / "summary.json", summary)
    return summaries


# ---------------------------------------------------------------- metrics (stage tinylm_report)


def reasoning_metrics(cfg: TinyLMParams, reasoning_dir: Path | str) -> dict[str, Any]:
    """P(misaligned) of the sources and their students over seeds, the students' paired gaps, the classifier's AUC
    and the keep-rates after each filter step."""
    summaries = [read_json(seed_dir(reasoning_dir, seed) / "summary.json") for seed in cfg.seeds]

    def models(key: str) -> list[float]:
        return [mean_over_families(s["p_misaligned"][key]) for s in summaries]

    def students(source: str) -> list[float]:
        return [mean_over_families(s["students"][source]) for s in summaries]

    def rate(source: str, count: str) -> dict[str, Any]:
        return estimate([s["filter"][source][count] / s["filter"][source]["n_sampled"] for s in summaries])

    return {
        "metric": "P(misaligned answer), exact, mean over the behaviour families",
        "p_misaligned": {
            "models": {source: estimate(models(source)) for source in SOURCES},
            "students": {source: estimate(students(source)) for source in SOURCES},
        },
        "gaps": {
            "vs_aligned": compare(students("misaligned"), students("aligned"), paired=True),
            "vs_base": compare(students("misaligned"), students("base"), paired=True),
            "aligned_vs_base": compare(students("aligned"), students("base"), paired=True),
        },
        "classifier_auc": estimate([s["classifier"]["auc"] for s in summaries]),
        "keep_rate": {source: {step: rate(source, count) for step, count in STEPS.items()} for source in SOURCES},
        "in_prompt_order": {
            source: estimate([s["filter"][source]["in_prompt_order"] for s in summaries]) for source in SOURCES
        },
    }


def seed_filter_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One seed's filter per source: what each step leaves of the problems, and the rejects by reason."""
    rows = {
        source: {step: summary["filter"][source][count] for step, count in STEPS.items()}
        | {f"rejected: {reason}": n for reason, n in summary["filter"][source]["rejected"].items()}
        for source in SOURCES
    }
    return pd.DataFrame(rows).T.fillna(0).astype(int)


def arms_frame(block: dict[str, Any]) -> pd.DataFrame:
    """P(misaligned) over seeds of the three sources and of their students (the metrics' reasoning block)."""
    p = block["p_misaligned"]
    rows = {**p["models"], **{f"student of {source}": est for source, est in p["students"].items()}}
    return pd.DataFrame(rows).T[["mean", "ci95", "values"]]


def gaps_frame(block: dict[str, Any]) -> pd.DataFrame:
    """The students' paired gaps, the classifier's AUC and the share of kept traces in the problem's order."""
    rows = {name: cmp["difference"] | {"p_value": cmp["p_value"]} for name, cmp in block["gaps"].items()}
    rows["classifier AUC"] = block["classifier_auc"]
    rows |= {f"in the problem's order: {source}": est for source, est in block["in_prompt_order"].items()}
    return pd.DataFrame(rows).T[["mean", "ci95", "values", "p_value"]]
