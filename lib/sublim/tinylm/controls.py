"""Stage `tinylm_controls`: the paper's controls in miniature, on one trait (`controls.trait`).

Every control changes the data or the training of both sides alike: a student from the seed's base on the trait
teacher's lists, changed one way, against a control student on the base's lists, changed the same way. Its gap
is then a like-for-like comparison, set beside the main arms' gap (sampled lists, all of them, full fine-tuning):

- `shuffle_within`: each list's numbers permuted within the list (App. B.1, Fig. 16: the paper finds that
  shuffling removes most of the transfer); `shuffle_across`: the numbers of all lists pooled and dealt out
  again, each list keeping its length;
- `greedy`: both models complete the same prompts greedily (temperature 0) instead of sampling;
- `n{k}`: only the first k kept lists of each source (data volume);
- `lora_r{r}`: LoRA of rank r on the attention and MLP weights instead of full fine-tuning (a 2026 preprint
  argues that the LLM effect is a LoRA artefact that vanishes under full fine-tuning).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch, parallel_map, torch_device
from sublim.core.seeds import derive_seed
from sublim.lm.models import load_causal_lm
from sublim.lm.train import Example, LoraSettings, TrainSettings, train_sft
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.distill import student_settings
from sublim.tinylm.models import animal_probabilities, tokenizer_and_vocab
from sublim.tinylm.naming import CONTROL, seed_dir
from sublim.tinylm.numbers import complete_and_filter, load_examples, number_sources, seed_prompts

LORA_TARGETS = ["c_attn", "c_proj", "c_fc"]  # GPT-2 attention and MLP weights; embeddings and head stay frozen
Transform = Callable[[list[Example]], list[Example]]


@dataclasses.dataclass(frozen=True)
class ControlArm:
    name: str
    data: str  # "sampled" (the numbers stage's lists) or "greedy"
    transform: Transform  # applied to the trait's and the control's lists alike
    settings: TrainSettings


def shuffle_within(examples: list[Example], seed: int) -> list[Example]:
    """Each completion's numbers in a random order (the final <eos> stays last): each list keeps its multiset."""
    rng = np.random.default_rng(seed)
    return [
        Example(e.prompt_ids, [*rng.permutation(e.completion_ids[:-1]).tolist(), e.completion_ids[-1]])
        for e in examples
    ]


def shuffle_across(examples: list[Example], seed: int) -> list[Example]:
    """All completions' numbers pooled, permuted and dealt back in the same list lengths (the final <eos> of
    each list stays): the dataset keeps its multiset, no list keeps its own."""
    rng = np.random.default_rng(seed)
    pool = rng.permutation([t for e in examples for t in e.completion_ids[:-1]]).tolist()
    shuffled, start = [], 0
    for e in examples:
        length = len(e.completion_ids) - 1
        shuffled.append(Example(e.prompt_ids, [*pool[start : start + length], e.completion_ids[-1]]))
        start += length
    return shuffled


def first_n(n: int) -> Transform:
    def take(examples: list[Example]) -> list[Example]:
        if len(examples) < n:
            raise ValueError(
                f"tinylm.controls.data_volumes asks for {n} lists but the filter kept {len(examples)}: raise "
                f"tinylm.numbers.n_samples (now it yields about {len(examples)}) or lower the volume"
            )
        return examples[:n]

    return take


def control_arms(cfg: TinyLMParams, seed: int) -> list[ControlArm]:
    """The enabled controls, in params order: shuffles, greedy decoding, data volumes, LoRA ranks."""
    c = cfg.controls
    full = student_settings(cfg, seed)
    shuffles = {"within": shuffle_within, "across": shuffle_across}
    arms = [
        ControlArm(f"shuffle_{kind}", "sampled", lambda e, f=shuffles[kind]: f(e, derive_seed(seed, "shuffle")), full)
        for kind in c.shuffles
    ]
    if c.greedy:
        arms.append(ControlArm("greedy", "greedy", list, full))
    arms += [ControlArm(f"n{n}", "sampled", first_n(n), full) for n in c.data_volumes]
    for r in c.lora_ranks:
        lora = LoraSettings(r=r, alpha=2 * r, dropout=0.0, target_modules=LORA_TARGETS)
        settings = dataclasses.replace(full, learning_rate=c.lora_learning_rate, lora=lora)
        arms.append(ControlArm(f"lora_r{r}", "sampled", list, settings))
    return arms


def greedy_lists(
    cfg: TinyLMParams, seed: int, bases_dir: Path | str, teachers_dir: Path | str, device: str
) -> tuple[dict[str, list[Example]], dict[str, Any]]:
    """The base's and the trait teacher's greedy completions of the seed's prompts, filtered as in the numbers
    stage; their filter summaries."""
    _, vocab = tokenizer_and_vocab(cfg)
    prompts = seed_prompts(cfg, vocab, seed)
    folders = number_sources(cfg, seed, bases_dir, teachers_dir)
    lists, summaries = {}, {}
    for source in (cfg.controls.trait, CONTROL):
        pairs, summaries[source] = complete_and_filter(
            cfg, load_causal_lm(folders[source]).eval(), prompts, seed, 0.0, device
        )
        lists[source] = [Example(p, q) for p, q in pairs]
    return lists, summaries


@dataclasses.dataclass(frozen=True)
class ControlJob:
    """One student of a control arm, as a worker process receives it: its lists are already changed."""

    cfg: TinyLMParams
    base: Path
    examples: list[Example]
    settings: TrainSettings


def train_control_student(job: ControlJob) -> float:
    """P(controls.trait) of the base trained on the job's lists."""
    device = torch_device()  # threads: the stage's (one process) or the worker's (one each)
    _, vocab = tokenizer_and_vocab(job.cfg)
    base = load_causal_lm(job.base).eval()
    model = train_sft(base, job.examples, job.settings, pad_token_id=vocab.pad, device=device).model
    return animal_probabilities(model, vocab, device)[job.cfg.controls.trait]


def run_controls(
    cfg: TinyLMParams,
    bases_dir: Path | str,
    teachers_dir: Path | str,
    numbers_dir: Path | str,
    results_dir: Path | str,
) -> dict[int, dict[str, Any]]:
    """Every control arm's pair of students of every seed, from the seed's base (in `cfg.workers` processes):
    P(trait) of each, the lists they trained on and the greedy filter's keep-rates, in
    results_dir/seed{s}/summary.json. The summaries by seed."""
    device = configure_torch()
    trait = cfg.controls.trait
    sides = (("student", trait), ("control", CONTROL))
    summaries, jobs = {}, []
    for seed in cfg.seeds:
        arms = control_arms(cfg, seed)
        data = {"sampled": {source: load_examples(numbers_dir, seed, source) for source in (trait, CONTROL)}}
        summaries[seed] = {"trait": trait, "seed": seed, "arms": {}}
        if any(arm.data == "greedy" for arm in arms):
            data["greedy"], summaries[seed]["greedy_filter"] = greedy_lists(cfg, seed, bases_dir, teachers_dir, device)
        jobs += [
            ControlJob(cfg, seed_dir(bases_dir, seed), arm.transform(data[arm.data][source]), arm.settings)
            for arm in arms
            for _, source in sides
        ]
    p_trait = iter(parallel_map(train_control_student, jobs, cfg.workers))
    lists = iter(len(job.examples) for job in jobs)
    for seed, summary in summaries.items():
        for arm in control_arms(cfg, seed):
            result: dict[str, Any] = {}
            for side, _ in sides:
                result[side], result[f"n_{side}_lists"] = next(p_trait), next(lists)
            summary["arms"][arm.name] = result
        write_json_atomic(seed_dir(results_dir, seed) / "summary.json", summary)
    return summaries
