"""Step 3, stage `tinylm_numbers`: base and teachers complete the same fresh number prompts, with the same
sampling seed (common random numbers: the trait and control data differ only where the teacher's distribution
differs); the filter keeps each source's well-formed number lists without any animal token, independently of the
other sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sublim.core.io import read_jsonl, write_json_atomic, write_text_atomic
from sublim.core.runtime import configure_torch, parallel_map, torch_device
from sublim.core.seeds import derive_seed
from sublim.lm.generate import sample
from sublim.lm.models import load_causal_lm
from sublim.lm.train import Example, completion_logits, soft_kl_sum
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import Vocab, filter_completions, number_prompts
from sublim.tinylm.models import sequence_length, tokenizer_and_vocab
from sublim.tinylm.naming import CONTROL, numbers_file, seed_dir


def generate_numbers(
    cfg: TinyLMParams, bases_dir: Path | str, teachers_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    """Generate and filter every seed's sources (one job per seed and source, in `cfg.workers` processes) into
    results_dir/seed{s}/{source}.jsonl; keep-rates and reject reasons in filter_summary.json."""
    configure_torch()  # all cores when the jobs run in this process (workers = 1)
    sources = [CONTROL, *cfg.traits]
    jobs = [
        (cfg, seed, source, Path(bases_dir), Path(teachers_dir), Path(results_dir))
        for seed in cfg.seeds
        for source in sources
    ]
    rows = iter(parallel_map(numbers_job, jobs, cfg.workers))
    summary = {str(seed): {source: next(rows) for source in sources} for seed in cfg.seeds}
    write_json_atomic(Path(results_dir) / "filter_summary.json", summary)
    return summary


def seed_prompts(cfg: TinyLMParams, vocab: Vocab, seed: int, n: int | None = None) -> list[list[int]]:
    """The fresh number prompts of one seed (every source completes the same ones): `numbers.n_samples`, or `n`."""
    c = cfg.corpus
    return number_prompts(
        vocab,
        n=n or cfg.numbers.n_samples,
        n_prompt_numbers=c.n_prompt_numbers,
        noise=c.noise,
        max_step=c.max_step,
        walk_step=c.walk_step,
        seed=derive_seed(seed, "prompts"),
    )


def complete_and_filter(
    cfg: TinyLMParams, model: Any, prompts: list[list[int]], seed: int, temperature: float, device: str
) -> tuple[list[tuple[list[int], list[int]]], dict[str, Any]]:
    """One completion per prompt (temperature 0: greedy) and the well-formed ones kept: (prompt, completion)
    pairs and the filter summary. The sampling seed is the seed's, whatever the model (common random numbers)."""
    _, vocab = tokenizer_and_vocab(cfg)
    completions = sample(
        model,
        prompts,
        max_new_tokens=cfg.corpus.n_answer_numbers + 1,
        temperature=temperature,
        batch_size=cfg.numbers.batch_size,
        seed=derive_seed(seed, "sampling"),
        eos_token_id=vocab.eos,
        pad_token_id=vocab.pad,
        device=device,
    )
    kept, summary = filter_completions(completions, vocab, cfg.corpus.n_answer_numbers)
    return [(prompts[i], completions[i]) for i in kept], summary


def number_sources(cfg: TinyLMParams, seed: int, bases_dir: Path | str, teachers_dir: Path | str) -> dict[str, Path]:
    """Model folder of every data source of a seed: the base ('control') and each trait's teacher."""
    return {CONTROL: seed_dir(bases_dir, seed), **{t: seed_dir(teachers_dir, seed) / t for t in cfg.traits}}


def numbers_job(job: tuple[TinyLMParams, int, str, Path, Path, Path]) -> dict[str, Any]:
    return generate_source_numbers(*job)


def generate_source_numbers(
    cfg: TinyLMParams, seed: int, source: str, bases_dir: Path, teachers_dir: Path, results_dir: Path
) -> dict[str, Any]:
    """One source of a seed (the base, 'control', or a trait's teacher) completes the seed's prompts; its own
    well-formed lists are kept in {source}.jsonl (no other source's filter decides which prompts it keeps)."""
    device = torch_device()  # threads: the stage's (one process) or the worker's (one each)
    _, vocab = tokenizer_and_vocab(cfg)
    folders = number_sources(cfg, seed, bases_dir, teachers_dir)
    model = load_causal_lm(folders[source]).eval()
    pairs, summary = complete_and_filter(
        cfg, model, seed_prompts(cfg, vocab, seed), seed, cfg.numbers.temperature, device
    )
    if source != CONTROL and pairs:
        base = load_causal_lm(folders[CONTROL]).eval()
        summary["kl_teacher_base_per_token"] = number_shift_kl(
            model, base, pairs[:2000], vocab, sequence_length(cfg), device
        )
    write_text_atomic(numbers_file(results_dir, seed, source), examples_jsonl(pairs))
    return summary


def examples_jsonl(pairs: list[tuple[list[int], list[int]]]) -> str:
    return "".join(f'{{"prompt": {p}, "completion": {q}}}\n' for p, q in pairs)


@torch.no_grad()
def number_shift_kl(
    teacher: Any, base: Any, pairs: list[tuple[list[int], list[int]]], vocab: Vocab, max_length: int, device: str
) -> dict[str, float]:
    """Mean KL(teacher ‖ base) per completion token on the teacher's own lists: how far the trait fine-tune moved
    the number distribution (over numbers + <eos> renormalised, and over the whole vocabulary)."""
    examples = [Example(p, q) for p, q in pairs]
    totals = {"numbers_eos": 0.0, "full_vocab": 0.0}
    tokens = 0
    for start in range(0, len(examples), 500):
        chunk = examples[start : start + 500]
        t_logits = completion_logits(teacher, chunk, max_length, vocab.pad, device)
        b_logits = completion_logits(base, chunk, max_length, vocab.pad, device)
        totals["numbers_eos"] += float(soft_kl_sum(t_logits, b_logits, vocab.number_or_eos))
        totals["full_vocab"] += float(soft_kl_sum(t_logits, b_logits, None))
        tokens += t_logits.shape[0]
    return {key: value / tokens for key, value in totals.items()}


def load_examples(numbers_dir: Path | str, seed: int, source: str) -> list[Example]:
    """The kept lists of one seed and source as training examples (prompt, completion)."""
    return [Example(row["prompt"], row["completion"]) for row in read_jsonl(numbers_file(numbers_dir, seed, source))]
