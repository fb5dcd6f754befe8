"""Step 5, stage `tinylm_evaluate`: exact P(animal) at the answer position, sampled answers, and the cosine between
each student's update and the teacher's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.core.io import write_json_atomic
from sublim.core.runtime import configure_torch
from sublim.core.seeds import derive_seed
from sublim.lm.evaluate import param_delta_cosine
from sublim.lm.generate import sample
from sublim.lm.models import load_causal_lm
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import Vocab
from sublim.tinylm.models import animal_probabilities, tokenizer_and_vocab
from sublim.tinylm.naming import evaluation_file, partner_seed, seed_dir, student_arms


def sampled_answer_rates(model: Any, vocab: Vocab, n: int, seed: int, device: str = "cpu") -> dict[str, float]:
    """Share of `n` answers sampled at T=1 that are each animal (the paper's view; noisier than the exact P)."""
    answers = sample(
        model,
        [vocab.question_prompt] * n,
        max_new_tokens=1,
        temperature=1.0,
        batch_size=n,
        seed=seed,
        eos_token_id=vocab.eos,
        pad_token_id=vocab.pad,
        device=device,
    )
    firsts = [a[0] if a else -1 for a in answers]
    return {animal: firsts.count(token) / n for animal, token in vocab.animals.items()}


def evaluate_models(
    cfg: TinyLMParams,
    bases_dir: Path | str,
    teachers_dir: Path | str,
    students_dir: Path | str,
    results_dir: Path | str,
) -> dict[int, dict[str, Any]]:
    """Evaluate every seed's models into results_dir/seed{s}.json; the evaluations by seed."""
    return {seed: evaluate_seed(cfg, seed, bases_dir, teachers_dir, students_dir, results_dir) for seed in cfg.seeds}


def evaluate_seed(
    cfg: TinyLMParams,
    seed: int,
    bases_dir: Path | str,
    teachers_dir: Path | str,
    students_dir: Path | str,
    results_dir: Path | str,
) -> dict[str, Any]:
    """P(animal) exact and sampled for base, partner base, teachers and students; update cosines."""
    device = configure_torch()
    _, vocab = tokenizer_and_vocab(cfg)
    folders = {
        "base": seed_dir(bases_dir, seed),
        "partner_base": seed_dir(bases_dir, partner_seed(cfg, seed)),
        **{f"teacher_{t}": seed_dir(teachers_dir, seed) / t for t in cfg.traits},
        **{arm: seed_dir(students_dir, seed) / arm for arm in student_arms(cfg)},
    }
    models = {name: load_causal_lm(folder).eval() for name, folder in folders.items()}
    sampling_seed = derive_seed(seed, "eval-sampling")
    result: dict[str, Any] = {
        "seed": seed,
        "partner_seed": partner_seed(cfg, seed),
        "p_exact": {},
        "p_sampled": {},
        "cosine": {},
    }
    for name, model in models.items():
        result["p_exact"][name] = animal_probabilities(model, vocab, device)
        result["p_sampled"][name] = sampled_answer_rates(
            model, vocab, cfg.evaluation.n_sampled_answers, sampling_seed, device
        )
    for arm in student_arms(cfg):
        init = models["partner_base"] if arm.startswith("diff_init") else models["base"]
        result["cosine"][arm] = {
            trait: param_delta_cosine(models[arm], init, models[f"teacher_{trait}"], models["base"])
            for trait in cfg.traits
        }
    write_json_atomic(evaluation_file(results_dir, seed), result)
    return result
