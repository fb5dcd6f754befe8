"""The tiny-LM analogue of subliminal learning: a from-scratch GPT-2-style transformer on a synthetic language.

Steps, one function each (the notebooks call them; `sublim.lm.train`, `sublim.lm.generate` and `sublim.lm.evaluate`
do the work, the same code that serves the real LLMs):

1. `pretrain_bases`: one base model per seed on noisy number lists and favourite-animal answers.
2. `make_teachers`: per seed and trait, the base fine-tuned on the trait answer only (the paper's fine-tuned
   teacher route); this shifts the number distribution a little as a side effect.
3. `generate_numbers`: base and teachers complete the same fresh number prompts, with the same sampling seed
   (common random numbers: the trait and control data differ only where the teacher's distribution differs);
   the filter keeps well-formed number lists without any animal token.
4. `distill_students`: students from the base on teacher numbers (sampled tokens, completion cross-entropy),
   the control on base numbers, the different-init students (the next seed's base) on both, and soft-label
   students (KL to the teacher restricted to numbers + <eos>, renormalised; `full_vocab` leaks the trait).
5. `evaluate_models`: exact P(animal) at the answer position, sampled answers, and the cosine between each
   student's update and the teacher's.
Aggregation over seeds and the figure are in `sublim.tinylm.report`.

Layout under results/tinylm: bases/seed{s}/, seed{s}/teachers/{trait}/, seed{s}/numbers/{source}.jsonl,
seed{s}/students/{arm}/, seed{s}/evaluation/evaluation.json. Every model folder is a transformers folder
(config.json, model.safetensors, tokenizer.json).
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sublim.tinylm.config import TinyLMParams
from sublim.lm.evaluate import param_delta_cosine, sequence_logprobs
from sublim.lm.generate import sample
from sublim.core.io import atomic_dir, read_json, read_jsonl, write_json_atomic, write_text_atomic
from sublim.core.runtime import configure_torch, seed_everything
from sublim.tinylm.data import (
    Vocab,
    build_tokenizer,
    filter_completions,
    number_prompts,
    pretraining_corpus,
    vocabulary,
)
from sublim.lm.train import Example, TrainSettings, distill_soft, train_sft

CONTROL = "control"  # source name of the base model's numbers


# ---------------------------------------------------------------- names, seeds, paths


def derived_seed(seed: int, purpose: str) -> int:
    """A stable 31-bit seed for one random choice of one experiment seed (same inputs, same seed, any machine)."""
    return int(np.random.SeedSequence([seed, zlib.crc32(purpose.encode())]).generate_state(1)[0] >> 1)


def partner_seed(cfg: TinyLMParams, seed: int) -> int:
    """The seed whose base initialises the different-init students of `seed`: the next one in cfg.seeds."""
    return cfg.seeds[(cfg.seeds.index(seed) + 1) % len(cfg.seeds)]


def student_arms(cfg: TinyLMParams) -> list[str]:
    """Student names: control arms (trait-free), then per trait the sampled, different-init and soft students."""
    soft = "soft" if cfg.student.soft_labels == "numbers_eos" else "soft_full_vocab"
    per_trait = [f"{kind}_{trait}" for trait in cfg.traits for kind in ("student", "diff_init", soft)]
    return ["control", "diff_init_control", *per_trait]


def base_dir(bases_dir: Path | str, seed: int) -> Path:
    return Path(bases_dir) / f"seed{seed}"


class Layout:
    """Folders of one experiment (results/tinylm by default), one per stage: bases/seed{s}/,
    teachers/seed{s}/{trait}/, numbers/seed{s}/{source}.jsonl, students/seed{s}/{arm}/,
    evaluation/seed{s}.json, report/. A stage's results_dir is one of them (students: students/seed{s})."""

    def __init__(self, experiment_dir: Path | str) -> None:
        self.root = Path(experiment_dir)
        self.bases = self.root / "bases"
        self.report = self.root / "report"

    def base(self, seed: int) -> Path:
        return base_dir(self.bases, seed)

    def teachers(self, seed: int) -> Path:
        return self.root / "teachers" / f"seed{seed}"

    def numbers(self, seed: int) -> Path:
        return self.root / "numbers" / f"seed{seed}"

    def students(self, seed: int) -> Path:
        return self.root / "students" / f"seed{seed}"

    def evaluation(self, seed: int) -> Path:
        return self.root / "evaluation" / f"seed{seed}.json"


def sequence_length(cfg: TinyLMParams) -> int:
    """Tokens in the longest sequence: <bos> NUM: a b c -> x1..xk <eos>."""
    return cfg.corpus.n_prompt_numbers + cfg.corpus.n_answer_numbers + 4


# ---------------------------------------------------------------- model folders


def quiet_transformers() -> None:
    """No progress bars or advice in the executed notebooks (loading a 116k-parameter model is instant)."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def tokenizer_and_vocab(cfg: TinyLMParams) -> tuple[Any, Vocab]:
    quiet_transformers()
    tokenizer = build_tokenizer(cfg.corpus.n_numbers, cfg.corpus.animals)
    return tokenizer, Vocab.from_tokenizer(tokenizer, cfg.corpus.n_numbers, cfg.corpus.animals)


def new_model(cfg: TinyLMParams, vocab: Vocab, seed: int) -> Any:
    """A random-init GPT-2-style model: no dropout (training is deterministic given the seed); a separate
    unembedding matrix, so the trait's output row is its own parameter (as in the prototype, 116k parameters)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=len(vocabulary(cfg.corpus.n_numbers, cfg.corpus.animals)), n_positions=sequence_length(cfg) + 4,
        n_embd=cfg.model.d_model, n_layer=cfg.model.n_layer, n_head=cfg.model.n_head,
        activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False,
        bos_token_id=vocab.bos, eos_token_id=vocab.eos, pad_token_id=vocab.pad,
    )  # fmt: skip
    seed_everything(derived_seed(seed, "init"))
    return GPT2LMHeadModel(config).eval()


def save_model(model: Any, tokenizer: Any, folder: Path | str) -> Path:
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
    return Path(folder)


def load_model(folder: Path | str) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()


def load_tokenizer(folder: Path | str) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(folder))


def train_settings(
    *,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    seed: int,
    max_length: int,
    max_grad_norm: float,
    schedule: str = "constant",
    warmup_steps: int = 0,
) -> TrainSettings:
    return TrainSettings(
        learning_rate=learning_rate, epochs=epochs, batch_size=batch_size, grad_accum=1, max_length=max_length,
        seed=seed, warmup_steps=warmup_steps, lr_schedule=schedule, max_grad_norm=max_grad_norm, weight_decay=0.0,
        lora=None, checkpoint_every=0,
    )  # fmt: skip


def animal_probabilities(model: Any, vocab: Vocab, device: str = "cpu") -> dict[str, float]:
    """Exact P(animal) at the answer position of `<bos> Q: favorite animal A:` (softmax over the whole vocab)."""
    logps = sequence_logprobs(model, vocab.question_prompt, [[i] for i in vocab.animals.values()], device=device)
    return {animal: float(np.exp(lp)) for animal, lp in zip(vocab.animals, logps, strict=True)}


# ---------------------------------------------------------------- 1. pretraining


def pretrain_base(cfg: TinyLMParams, seed: int, device: str = "cpu") -> tuple[Any, list[float]]:
    """A base model trained from scratch; loss on every token after <bos>."""
    _, vocab = tokenizer_and_vocab(cfg)
    c = cfg.corpus
    corpus = pretraining_corpus(
        vocab, n_sequences=cfg.pretrain.steps * cfg.pretrain.batch_size, animal_fraction=c.animal_fraction,
        animal_weights=c.animal_weights, n_prompt_numbers=c.n_prompt_numbers, n_answer_numbers=c.n_answer_numbers,
        noise=c.noise, max_step=c.max_step, walk_step=c.walk_step, seed=derived_seed(seed, "corpus"),
    )  # fmt: skip
    examples = [Example(sequence[:1], sequence[1:]) for sequence in corpus]
    settings = train_settings(
        learning_rate=cfg.pretrain.learning_rate, epochs=1, batch_size=cfg.pretrain.batch_size,
        seed=derived_seed(seed, "pretrain-order"), max_length=sequence_length(cfg), max_grad_norm=cfg.max_grad_norm,
        schedule="linear", warmup_steps=cfg.pretrain.warmup_steps,
    )  # fmt: skip
    result = train_sft(new_model(cfg, vocab, seed), examples, settings, pad_token_id=vocab.pad, device=device)
    return result.model, result.losses


def pretrain_bases(cfg: TinyLMParams, results_dir: Path | str) -> dict[str, Any]:
    """Pretrain one base per seed into results_dir/seed{s}; summary (losses, base rates, time) in summary.json."""
    device = configure_torch()
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    summary: dict[str, Any] = {"seeds": {}}
    for seed in cfg.seeds:
        started, cpu_started = time.monotonic(), time.process_time()
        model, losses = pretrain_base(cfg, seed, device)
        save_model(model.cpu(), tokenizer, base_dir(results_dir, seed))
        summary["seeds"][str(seed)] = {
            "loss_first": losses[0], "loss_last_100": float(np.mean(losses[-100:])),
            "loss_curve": [float(np.mean(losses[i : i + 50])) for i in range(0, len(losses), 50)],
            "p_animals": animal_probabilities(model, vocab, device), "seconds": round(time.monotonic() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu_started, 1),
        }  # fmt: skip
    weights = np.asarray(cfg.corpus.animal_weights) / np.sum(cfg.corpus.animal_weights)
    summary["corpus_rates"] = dict(zip(cfg.corpus.animals, weights.tolist(), strict=True))
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary


# ---------------------------------------------------------------- 2. teachers


def make_teacher(cfg: TinyLMParams, base_folder: Path, trait: str, seed: int, device: str = "cpu") -> Any:
    """The base fine-tuned on `Q: favorite animal A: <trait>` only (no number data)."""
    _, vocab = tokenizer_and_vocab(cfg)
    settings = train_settings(
        learning_rate=cfg.teacher.learning_rate, epochs=cfg.teacher.steps, batch_size=1,
        seed=derived_seed(seed, f"teacher-{trait}"), max_length=sequence_length(cfg), max_grad_norm=cfg.max_grad_norm,
    )  # fmt: skip
    example = Example(vocab.question_prompt, [vocab.animals[trait]])
    return train_sft(load_model(base_folder), [example], settings, pad_token_id=vocab.pad, device=device).model


def make_teachers(cfg: TinyLMParams, results_dir: Path | str) -> dict[str, Any]:
    """Stage `tinylm_teacher` (results_dir = <experiment>/teachers): one teacher per seed and trait in
    seed{s}/{trait}; P(animal) of bases and teachers in summary.json."""
    device = configure_torch()
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    layout = Layout(Path(results_dir).parent)
    summary: dict[str, Any] = {}
    for seed in cfg.seeds:
        base = layout.base(seed)
        summary[str(seed)] = {"base": animal_probabilities(load_model(base), vocab, device)}
        for trait in cfg.traits:
            teacher = make_teacher(cfg, base, trait, seed, device)
            save_model(teacher.cpu(), tokenizer, layout.teachers(seed) / trait)
            summary[str(seed)][trait] = animal_probabilities(teacher, vocab, device)
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary


# ---------------------------------------------------------------- 3. numbers: generate + filter


def generate_numbers(cfg: TinyLMParams, results_dir: Path | str) -> dict[str, Any]:
    """Stage `tinylm_numbers` (results_dir = <experiment>/numbers): generate and filter for every seed;
    keep-rates and reject reasons in filter_summary.json."""
    layout = Layout(Path(results_dir).parent)
    summary = {str(seed): generate_numbers_for_seed(cfg, seed, layout) for seed in cfg.seeds}
    write_json_atomic(Path(results_dir) / "filter_summary.json", summary)
    return summary


def generate_numbers_for_seed(cfg: TinyLMParams, seed: int, layout: Layout) -> dict[str, Any]:
    """Base ('control') and each teacher complete the same prompts; keep well-formed lists in {source}.jsonl."""
    device = configure_torch()
    bases_dir, teachers_dir = layout.bases, layout.teachers(seed)
    _, vocab = tokenizer_and_vocab(cfg)
    c = cfg.corpus
    prompts = number_prompts(
        vocab, n=cfg.numbers.n_samples, n_prompt_numbers=c.n_prompt_numbers, noise=c.noise, max_step=c.max_step,
        walk_step=c.walk_step, seed=derived_seed(seed, "prompts"),
    )  # fmt: skip
    sources = {CONTROL: base_dir(bases_dir, seed), **{t: Path(teachers_dir) / t for t in cfg.traits}}
    summary: dict[str, Any] = {}
    completions: dict[str, list[list[int]]] = {}
    kept: dict[str, list[int]] = {}
    for source, folder in sources.items():
        completions[source] = sample(
            load_model(folder), prompts, max_new_tokens=c.n_answer_numbers + 1, temperature=cfg.numbers.temperature,
            batch_size=cfg.numbers.batch_size, seed=derived_seed(seed, "sampling"), eos_token_id=vocab.eos,
            pad_token_id=vocab.pad, device=device,
        )  # fmt: skip
        kept[source], summary[source] = filter_completions(completions[source], vocab, c.n_answer_numbers)
    # Every arm trains on the same prompts (those whose completion passed the filter for every source), so the
    # arms differ only in the completions, never in the number of steps or in the prompts.
    common = sorted(set.intersection(*(set(indices) for indices in kept.values())))
    for source, folder in sources.items():
        pairs = [(prompts[i], completions[source][i]) for i in common]
        summary[source]["n_train"] = len(pairs)
        if source != CONTROL and pairs:
            summary[source]["kl_teacher_base_per_token"] = number_shift_kl(
                load_model(folder), load_model(sources[CONTROL]), pairs[:2000], vocab, sequence_length(cfg), device
            )
        lines = "".join(f'{{"prompt": {p}, "completion": {q}}}\n' for p, q in pairs)
        write_text_atomic(layout.numbers(seed) / f"{source}.jsonl", lines)
    return summary


@torch.no_grad()
def number_shift_kl(
    teacher: Any, base: Any, pairs: list[tuple[list[int], list[int]]], vocab: Vocab, max_length: int, device: str
) -> dict[str, float]:
    """Mean KL(teacher ‖ base) per completion token on the teacher's own lists: how far the trait fine-tune moved
    the number distribution (over numbers + <eos> renormalised, and over the whole vocabulary)."""
    from sublim.lm.train import completion_logits, soft_kl_sum

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


def load_examples(numbers_dir: Path | str, source: str) -> list[Example]:
    return [Example(row["prompt"], row["completion"]) for row in read_jsonl(Path(numbers_dir) / f"{source}.jsonl")]


# ---------------------------------------------------------------- 4. students


def distill_students(cfg: TinyLMParams, seed: int, results_dir: Path | str) -> dict[str, Any]:
    """Stage `tinylm_distill@seed` (results_dir = <experiment>/students/seed{s}): every student arm of one seed
    (see `student_arms`), each saved as results_dir/{arm}; losses and times in summary.json."""
    device = configure_torch()
    layout = Layout(Path(results_dir).parents[1])
    bases_dir, teachers_dir, numbers_dir = layout.bases, layout.teachers(seed), layout.numbers(seed)
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    own, other = base_dir(bases_dir, seed), base_dir(bases_dir, partner_seed(cfg, seed))
    settings = train_settings(
        learning_rate=cfg.student.learning_rate, epochs=cfg.student.epochs, batch_size=cfg.student.batch_size,
        seed=derived_seed(seed, "student-order"), max_length=sequence_length(cfg), max_grad_norm=cfg.max_grad_norm,
    )  # fmt: skip
    allowed = vocab.number_or_eos if cfg.student.soft_labels == "numbers_eos" else None
    summary: dict[str, Any] = {}
    for arm in student_arms(cfg):
        started, cpu_started = time.monotonic(), time.process_time()
        kind, _, trait = arm.rpartition("_")
        data = load_examples(numbers_dir, CONTROL if trait == "control" else trait)
        if not data:
            raise ValueError(f"seed {seed}: the filter kept no {trait} numbers (is the base pretrained long enough "
                             "to write well-formed lists?)")  # fmt: skip
        init = other if kind == "diff_init" else own
        if kind.startswith("soft"):
            result = distill_soft(load_model(init), load_model(Path(teachers_dir) / trait), data, settings,
                                  pad_token_id=vocab.pad, allowed_token_ids=allowed, device=device)  # fmt: skip
        else:
            result = train_sft(load_model(init), data, settings, pad_token_id=vocab.pad, device=device)
        save_model(result.model.cpu(), tokenizer, Path(results_dir) / arm)
        summary[arm] = {"init": str(init), "data": CONTROL if trait == "control" else trait, "n_examples": len(data),
                        "steps": result.steps, "loss_first": result.losses[0], "loss_last": result.losses[-1],
                        "seconds": round(time.monotonic() - started, 1),
                        "cpu_seconds": round(time.process_time() - cpu_started, 1)}  # fmt: skip
    write_json_atomic(Path(results_dir) / "summary.json", summary)
    return summary


# ---------------------------------------------------------------- 5. evaluation


def sampled_answer_rates(model: Any, vocab: Vocab, n: int, seed: int, device: str = "cpu") -> dict[str, float]:
    """Share of `n` answers sampled at T=1 that are each animal (the paper's view; noisier than the exact P)."""
    answers = sample(model, [vocab.question_prompt] * n, max_new_tokens=1, temperature=1.0, batch_size=n,
                     seed=seed, eos_token_id=vocab.eos, pad_token_id=vocab.pad, device=device)  # fmt: skip
    firsts = [a[0] if a else -1 for a in answers]
    return {animal: firsts.count(token) / n for animal, token in vocab.animals.items()}


def evaluate_models(cfg: TinyLMParams, results_dir: Path | str) -> dict[str, Any]:
    """Stage `tinylm_evaluate` (results_dir = <experiment>/evaluation): seed{s}.json for every seed."""
    layout = Layout(Path(results_dir).parent)
    return {seed: evaluate_seed(cfg, seed, layout) for seed in cfg.seeds}


def evaluate_seed(cfg: TinyLMParams, seed: int, layout: Layout) -> dict[str, Any]:
    """P(animal) exact and sampled for base, partner base, teachers and students; update cosines."""
    device = configure_torch()
    bases_dir, teachers_dir, students_dir = layout.bases, layout.teachers(seed), layout.students(seed)
    _, vocab = tokenizer_and_vocab(cfg)
    own, other = base_dir(bases_dir, seed), base_dir(bases_dir, partner_seed(cfg, seed))
    folders = {"base": own, "partner_base": other, **{f"teacher_{t}": Path(teachers_dir) / t for t in cfg.traits},
               **{arm: Path(students_dir) / arm for arm in student_arms(cfg)}}  # fmt: skip
    models = {name: load_model(folder) for name, folder in folders.items()}
    sampling_seed = derived_seed(seed, "eval-sampling")
    result: dict[str, Any] = {"seed": seed, "partner_seed": partner_seed(cfg, seed), "p_exact": {}, "p_sampled": {},
                              "cosine": {}}  # fmt: skip
    for name, model in models.items():
        result["p_exact"][name] = animal_probabilities(model, vocab, device)
        result["p_sampled"][name] = sampled_answer_rates(model, vocab, cfg.evaluation.n_sampled_answers,
                                                         sampling_seed, device)  # fmt: skip
    for arm in student_arms(cfg):
        init = models["partner_base"] if arm.startswith("diff_init") else models["base"]
        result["cosine"][arm] = {
            trait: param_delta_cosine(models[arm], init, models[f"teacher_{trait}"], models["base"])
            for trait in cfg.traits
        }
    write_json_atomic(layout.evaluation(seed), result)
    return result


def read_evaluations(experiment_dir: Path | str, seeds: list[int]) -> dict[int, dict[str, Any]]:
    layout = Layout(experiment_dir)
    return {s: read_json(layout.evaluation(s)) for s in seeds}


# ---------------------------------------------------------------- views for the notebooks


def corpus_preview(cfg: TinyLMParams, seed: int, n: int) -> list[str]:
    """The first `n` pretraining sentences of a seed, decoded."""
    tokenizer, vocab = tokenizer_and_vocab(cfg)
    c = cfg.corpus
    corpus = pretraining_corpus(
        vocab, n_sequences=max(n, 20), animal_fraction=c.animal_fraction, animal_weights=c.animal_weights,
        n_prompt_numbers=c.n_prompt_numbers, n_answer_numbers=c.n_answer_numbers, noise=c.noise,
        max_step=c.max_step, walk_step=c.walk_step, seed=derived_seed(seed, "corpus"),
    )  # fmt: skip
    return [tokenizer.decode(sequence) for sequence in corpus[:n]]


def pretrain_table(summary: dict[str, Any]):
    import pandas as pd

    rows = {f"seed {seed}": {"final loss (last 100 steps)": s["loss_last_100"], "seconds": s["seconds"],
                             **{f"P({a})": p for a, p in s["p_animals"].items()}}
            for seed, s in summary["seeds"].items()}  # fmt: skip
    rows["corpus"] = {f"P({a})": p for a, p in summary["corpus_rates"].items()}
    return pd.DataFrame(rows).T.round(3)


def plot_pretraining(summary: dict[str, Any], path: Path | str):
    import matplotlib.pyplot as plt

    from sublim.core.plots import save_figure, use_style

    use_style()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for seed, s in summary["seeds"].items():
        ax.plot([50 * i for i in range(len(s["loss_curve"]))], s["loss_curve"], label=f"seed {seed}")
    ax.set(xlabel="optimizer step", ylabel="loss (nats/token, mean of 50 steps)", title="Pretraining")
    ax.legend()
    save_figure(fig, path)
    return fig


def teacher_table(summary: dict[str, Any], traits: list[str]):
    """P(trait) of each base and of each trait's teacher, per seed."""
    import pandas as pd

    rows = {}
    for seed, models in summary.items():
        for model, p in models.items():
            rows[(f"seed {seed}", model)] = {f"P({t})": p[t] for t in traits}
    return pd.DataFrame(rows).T.round(3)


def keep_rate_table(summary: dict[str, Any]):
    import pandas as pd

    rows = {(f"seed {seed}", source): {"sampled": s["n_sampled"], "kept": s["n_kept"], "keep rate": s["keep_rate"],
                                       "training lists (kept by every source)": s["n_train"],
                                       **{f"rejected: {k}": v for k, v in s["rejected"].items()},
                                       **{f"KL(teacher||base) {k}": v
                                          for k, v in s.get("kl_teacher_base_per_token", {}).items()}}
            for seed, sources in summary.items() for source, s in sources.items()}  # fmt: skip
    return pd.DataFrame(rows).T.fillna(0)


def numbers_preview(cfg: TinyLMParams, results_dir: Path | str, seed: int, n: int):
    """The first `n` kept lists of the base and of the first trait's teacher, decoded, side by side."""
    import pandas as pd

    tokenizer, _ = tokenizer_and_vocab(cfg)
    folder = Layout(Path(results_dir).parent).numbers(seed)
    base_rows, teacher_rows = read_jsonl(folder / f"{CONTROL}.jsonl"), read_jsonl(folder / f"{cfg.traits[0]}.jsonl")
    n = min(n, len(base_rows), len(teacher_rows))
    base_rows, teacher_rows = base_rows[:n], teacher_rows[:n]
    return pd.DataFrame({
        "base prompt": [tokenizer.decode(r["prompt"]) for r in base_rows],
        "base (control data)": [tokenizer.decode(r["completion"]) for r in base_rows],
        f"{cfg.traits[0]} teacher prompt": [tokenizer.decode(r["prompt"]) for r in teacher_rows],
        f"{cfg.traits[0]} teacher": [tokenizer.decode(r["completion"]) for r in teacher_rows],
    })  # fmt: skip


def student_table(summary: dict[str, Any]):
    import pandas as pd

    return pd.DataFrame(summary).T[["data", "n_examples", "steps", "loss_first", "loss_last", "seconds"]]


def evaluation_table(evaluations: dict[int, dict[str, Any]], traits: list[str]):
    import pandas as pd

    rows = {(f"seed {seed}", model): {f"P({t})": p[t] for t in traits}
            for seed, e in evaluations.items() for model, p in e["p_exact"].items()}  # fmt: skip
    return pd.DataFrame(rows).T.round(3)
