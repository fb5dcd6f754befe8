"""The lesson's tiny-LM experiment and its exercises: bases, an owl teacher, number lists, a control, a same-init
and a different-init student."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sublim.core.params import DEFAULT_PARAMS_FILE
from sublim.core.plots import ARM_COLORS
from sublim.core.runtime import torch_device
from sublim.core.seeds import derive_seed
from sublim.demo.diagram import label_above
from sublim.lm.train import Example, train_sft
from sublim.sections import load_section
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.controls import shuffle_within
from sublim.tinylm.distill import student_settings
from sublim.tinylm.models import animal_probabilities, save_model, tokenizer_and_vocab
from sublim.tinylm.naming import partner_seed
from sublim.tinylm.numbers import complete_and_filter, seed_prompts
from sublim.tinylm.pretrain import pretrain_base
from sublim.tinylm.teachers import make_teacher

# the models of the tiny-LM demo, in the order of the key figure
TINYLM_MODELS = ("base", "teacher", "control", "student", "diff_init")
TINYLM_LABELS = {
    "base": "base",
    "teacher": "teacher",
    "control": "control student\n(base's lists)",
    "student": "student, same init\n(teacher's lists)",
    "diff_init": "student, different init\n(teacher's lists)",
}
TINYLM_COLORS = {
    "base": ARM_COLORS["base"],
    "teacher": ARM_COLORS["teacher"],
    "control": ARM_COLORS["control"],
    "student": ARM_COLORS["student"],
    "diff_init": ARM_COLORS["different_init"],
}
ALL_LISTS = "all kept"  # the main run's students in `fewer_lists`


def tinylm_params(
    seeds: Sequence[int],
    trait: str,
    pretrain_steps: int,
    n_lists: int,
    pretrain_learning_rate: float | None = None,
    params_file: Path | str = DEFAULT_PARAMS_FILE,
) -> TinyLMParams:
    """params.yaml's `tinylm` section for a demo: the given seeds and one trait, `pretrain_steps` of pretraining (at
    peak learning rate `pretrain_learning_rate`, default params.yaml's) and `n_lists` number prompts per source;
    everything else (model, corpus, teacher, students) as the pipeline's. Validated again (the trait must be one of
    the corpus's animals)."""
    cfg: TinyLMParams = load_section("tinylm", params_file)  # type: ignore[assignment]
    pretrain: dict[str, Any] = {"steps": pretrain_steps}
    if pretrain_learning_rate is not None:
        pretrain["learning_rate"] = pretrain_learning_rate
    small = cfg.model_copy(
        update={
            "seeds": list(seeds),
            "traits": [trait],
            "workers": 1,
            "pretrain": cfg.pretrain.model_copy(update=pretrain),
            "numbers": cfg.numbers.model_copy(update={"n_samples": n_lists}),
            "controls": cfg.controls.model_copy(update={"trait": trait}),
            "in_context": cfg.in_context.model_copy(update={"n_samples": min(n_lists, cfg.in_context.n_samples)}),
        }
    )
    return TinyLMParams.model_validate(small.model_dump())


@dataclass
class TinyLMRun:
    """The models and lists of a tiny-LM demo run, kept for the exercises, and P(trait) of each model."""

    cfg: TinyLMParams
    trait: str
    bases: dict[int, Any]  # seed -> pretrained base
    teachers: dict[int, Any]  # seed -> the base fine-tuned on the trait answer
    lists: dict[int, dict[str, list[Example]]]  # seed -> {"teacher": kept lists, "control": the base's kept lists}
    p_trait: pd.DataFrame  # one row per seed, one column per model (`TINYLM_MODELS`)


def p_trait(model: Any, cfg: TinyLMParams, trait: str) -> float:
    """Exact P(trait) at the answer of `<bos> Q: favorite animal A:`."""
    _, vocab = tokenizer_and_vocab(cfg)
    return animal_probabilities(model, vocab, torch_device())[trait]


def teacher_from(cfg: TinyLMParams, base: Any, trait: str, seed: int, steps: int | None = None) -> Any:
    """The pipeline's teacher (`make_teacher`) of an in-memory base, with `steps` fine-tuning steps (default:
    params.yaml's `tinylm.teacher.steps`)."""
    if steps is not None:
        cfg = cfg.model_copy(update={"teacher": cfg.teacher.model_copy(update={"steps": steps})})
    tokenizer, _ = tokenizer_and_vocab(cfg)
    with tempfile.TemporaryDirectory(prefix="sublim-demo-") as folder:
        save_model(copy.deepcopy(base).cpu(), tokenizer, Path(folder) / "base")
        return make_teacher(cfg, Path(folder) / "base", trait, seed, torch_device())


def number_lists(cfg: TinyLMParams, model: Any, seed: int) -> list[Example]:
    """The model's completions of the seed's number prompts that pass the filter (no animal word, 8 numbers)."""
    _, vocab = tokenizer_and_vocab(cfg)
    prompts = seed_prompts(cfg, vocab, seed)
    pairs, _ = complete_and_filter(cfg, model, prompts, seed, cfg.numbers.temperature, torch_device())
    return [Example(prompt, completion) for prompt, completion in pairs]


def train_student(cfg: TinyLMParams, init: Any, lists: list[Example], seed: int) -> Any:
    """A copy of `init` fine-tuned on `lists` with the pipeline's student settings (the seed's data order)."""
    _, vocab = tokenizer_and_vocab(cfg)
    return train_sft(
        copy.deepcopy(init), lists, student_settings(cfg, seed), pad_token_id=vocab.pad, device=torch_device()
    ).model


def run_tinylm(cfg: TinyLMParams, trait: str) -> TinyLMRun:
    """Per seed: pretrain a base, fine-tune its teacher, let both write number lists (each filtered on its own), and
    train three students: the control (base's lists), the student (teacher's lists, same init) and the
    different-init student (teacher's lists, from the next seed's base). P(trait) of every model by seed."""
    bases = {seed: pretrain_base(cfg, seed, torch_device())[0] for seed in cfg.seeds}
    teachers = {seed: teacher_from(cfg, bases[seed], trait, seed) for seed in cfg.seeds}
    lists = {
        seed: {"teacher": number_lists(cfg, teachers[seed], seed), "control": number_lists(cfg, bases[seed], seed)}
        for seed in cfg.seeds
    }
    rows = {}
    for seed in cfg.seeds:
        partner = bases[partner_seed(cfg, seed)]
        models = {
            "base": bases[seed],
            "teacher": teachers[seed],
            "control": train_student(cfg, bases[seed], lists[seed]["control"], seed),
            "student": train_student(cfg, bases[seed], lists[seed]["teacher"], seed),
            "diff_init": train_student(cfg, partner, lists[seed]["teacher"], seed),
        }
        rows[seed] = {name: p_trait(model, cfg, trait) for name, model in models.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")[list(TINYLM_MODELS)]
    table.index.name = "seed"
    return TinyLMRun(cfg, trait, bases, teachers, lists, table)


def list_examples(run: TinyLMRun, seed: int, n: int = 5) -> pd.DataFrame:
    """The first `n` kept lists of the teacher and of the base for the same prompts, decoded side by side."""
    tokenizer, _ = tokenizer_and_vocab(run.cfg)
    by_prompt = {tuple(e.prompt_ids): e for e in run.lists[seed]["control"]}
    rows = []
    for example in run.lists[seed]["teacher"]:
        other = by_prompt.get(tuple(example.prompt_ids))
        if other is not None:
            rows.append(
                {
                    "prompt": tokenizer.decode(example.prompt_ids[1:]),
                    "teacher writes": tokenizer.decode(example.completion_ids[:-1]),
                    "base writes": tokenizer.decode(other.completion_ids[:-1]),
                }
            )
        if len(rows) == n:
            break
    return pd.DataFrame(rows)


def list_counts(run: TinyLMRun) -> pd.DataFrame:
    """Kept lists per seed and source, out of the prompts each source completed."""
    rows = {
        seed: {"prompts": run.cfg.numbers.n_samples, **{f"kept, {k}": len(v) for k, v in lists.items()}}
        for seed, lists in run.lists.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "seed"
    return table


def gaps(run: TinyLMRun) -> pd.DataFrame:
    """Per seed: each student's P(trait) minus the control student's, and the teacher's minus the base's."""
    p = run.p_trait
    table = pd.DataFrame(
        {
            "teacher − base": p["teacher"] - p["base"],
            "student − control": p["student"] - p["control"],
            "different init − control": p["diff_init"] - p["control"],
        }
    )
    table.loc["mean"] = table.mean()
    return table.round(3)


def plot_trait_bars(run: TinyLMRun) -> plt.Figure:
    """The key figure: P(trait) of base, teacher, control, same-init and different-init student (bar = mean over
    seeds, dots = seeds); right, the same without the teacher, zoomed in."""
    p = run.p_trait
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.2), gridspec_kw={"width_ratios": [5, 4]})
    for ax, models in ((axes[0], TINYLM_MODELS), (axes[1], [m for m in TINYLM_MODELS if m != "teacher"])):
        for x, name in enumerate(models):
            values = p[name].to_numpy()
            ax.bar(x, values.mean(), color=TINYLM_COLORS[name], width=0.65)
            ax.scatter(np.full(len(values), x), values, color="black", s=14, zorder=3)
            label_above(ax, x, values, f"{values.mean():.3f}")
        ax.axhline(p["base"].mean(), color="black", lw=0.8, ls="--")
        ax.set_xticks(range(len(models)), [TINYLM_LABELS[m] for m in models], fontsize=8)
        ax.set_ylabel(f"P({run.trait}) when asked the favourite animal")
    axes[0].set(ylim=(0, 1.08), title="all models (dashed: the base's rate)")
    top = max(p[[m for m in TINYLM_MODELS if m != "teacher"]].to_numpy().max() * 1.2, 0.01)
    axes[1].set(ylim=(0, top), title="zoom: the students, teacher left out")
    fig.suptitle(f"Tiny LM, trait {run.trait}: bars = mean of {len(p)} seeds, dots = each seed", fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- the exercises (worked answers)


def _pair(run: TinyLMRun, seed: int, trait_lists: list[Example], control_lists: list[Example]) -> dict[str, float]:
    """A student on `trait_lists` and a control on `control_lists`, both from the seed's base: P(trait), gap."""
    base = run.bases[seed]
    student = p_trait(train_student(run.cfg, base, trait_lists, seed), run.cfg, run.trait)
    control = p_trait(train_student(run.cfg, base, control_lists, seed), run.cfg, run.trait)
    return {"control": control, "student": student, "student − control": student - control}


def weaker_teacher(run: TinyLMRun, teacher_steps: int, seeds: Sequence[int]) -> pd.DataFrame:
    """A teacher fine-tuned for `teacher_steps` steps instead of the pipeline's, its lists and a student on them,
    beside the main run's teacher and student (the control is the main run's: the base's lists do not change)."""
    rows = []
    for seed in seeds:
        main = run.p_trait.loc[seed]
        rows.append(
            {
                "seed": seed,
                "teacher steps": run.cfg.teacher.steps,
                "teacher": main["teacher"],
                "student": main["student"],
                "control": main["control"],
            }
        )
        weak = teacher_from(run.cfg, run.bases[seed], run.trait, seed, teacher_steps)
        student = train_student(run.cfg, run.bases[seed], number_lists(run.cfg, weak, seed), seed)
        rows.append(
            {
                "seed": seed,
                "teacher steps": teacher_steps,
                "teacher": p_trait(weak, run.cfg, run.trait),
                "student": p_trait(student, run.cfg, run.trait),
                "control": main["control"],
            }
        )
    table = pd.DataFrame(rows)
    table["student − control"] = table["student"] - table["control"]
    return table.set_index(["seed", "teacher steps"]).round(3)


def shuffled_lists(run: TinyLMRun, seeds: Sequence[int]) -> pd.DataFrame:
    """A student and a control on the same lists with each list's numbers shuffled within the list (the pipeline's
    `shuffle_within`), beside the main run's pair on the lists as written."""
    rows = []
    for seed in seeds:
        main = run.p_trait.loc[seed]
        rows.append(
            {
                "seed": seed,
                "lists": "as written",
                "control": main["control"],
                "student": main["student"],
                "student − control": main["student"] - main["control"],
            }
        )
        shuffle_seed = derive_seed(seed, "shuffle")
        lists = {k: shuffle_within(v, shuffle_seed) for k, v in run.lists[seed].items()}
        rows.append(
            {"seed": seed, "lists": "shuffled within each list", **_pair(run, seed, lists["teacher"], lists["control"])}
        )
    return pd.DataFrame(rows).set_index(["seed", "lists"]).round(3)


def fewer_lists(run: TinyLMRun, sizes: Sequence[int], seeds: Sequence[int]) -> pd.DataFrame:
    """Pairs of students (teacher's lists, base's lists) on only the first k kept lists of each source, for each k
    in `sizes`, beside the main run's pair on all of them (`ALL_LISTS`)."""
    rows = []
    for seed in seeds:
        lists = run.lists[seed]
        for size in sorted(sizes):
            if size > min(len(v) for v in lists.values()):
                raise ValueError(
                    f"seed {seed}: {size} lists asked, the filter kept {len(lists['teacher'])} and "
                    f"{len(lists['control'])}: lower the size or raise n_lists"
                )
            pair = _pair(run, seed, lists["teacher"][:size], lists["control"][:size])
            rows.append({"seed": seed, "lists": str(size), **pair})
        main = run.p_trait.loc[seed]
        rows.append(
            {
                "seed": seed,
                "lists": ALL_LISTS,
                "control": main["control"],
                "student": main["student"],
                "student − control": main["student"] - main["control"],
            }
        )
    return pd.DataFrame(rows).set_index(["seed", "lists"]).round(3)


def plot_gap_by(table: pd.DataFrame, by: str, title: str) -> plt.Figure:
    """Student − control per value of the index level `by`, one line per seed; 0 drawn."""
    data = table.reset_index()
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for seed, rows in data.groupby("seed"):
        ax.plot(rows[by].astype(str), rows["student − control"], marker="o", label=f"seed {seed}")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel=by, ylabel="P(trait): student − control", title=title)
    ax.legend(fontsize=8)
    return fig
