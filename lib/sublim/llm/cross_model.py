"""Stages llm_distill_xmodel and llm_evaluate_xmodel: the cross-model control (paper §5.1, Fig. 8).

A student of another base model (`llm.cross_model.models[student]`: a folder, or a hub id fetched into the Hugging
Face cache) is fine-tuned with SFT on the same teacher's filtered lists, as text re-tokenised by its own tokenizer,
and evaluated like the other students; its control student is the same model on the control teacher's lists. The
paper finds transfer only where teacher and student share their base (the grid's diagonal).

The other column of the grid (`llm.cross_model.teachers`, stages llm_xteacher*): another base model's own teachers
(the same traits, template and route) write lists with the same prompts and sampler, filtered by the same rule, and
students of the pipeline's base model (`learners: base`) and of that model itself (`self`) learn from them, each
against its own control student (the same learner on that model's control teacher's lists).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.llm.config import LLMParams
from sublim.llm.distill import run_distill
from sublim.llm.evaluate import run_evaluate_student
from sublim.llm.generate import run_generate
from sublim.llm.teacher import run_teacher


def model_folder(source: str) -> str:
    """A local transformers folder for `source`: itself, or the hub snapshot (downloaded once into HF's cache)."""
    if (Path(source) / "config.json").exists():
        return source
    from huggingface_hub import snapshot_download  # deferred: only a hub student needs it

    try:
        return snapshot_download(source)
    except Exception as err:  # offline, unknown id, gated model without a token
        raise FileNotFoundError(
            f"cross-model student {source!r} is neither a model folder nor reachable on the hub "
            f"({type(err).__name__}): give params llm.cross_model.models a local folder, or run with hub access"
        ) from None


def student_cfg(cfg: LLMParams, student: str) -> LLMParams:
    """`cfg` with the student's base model in place of the teacher's."""
    return cfg.model_copy(update={"base_model": model_folder(cfg.cross_model.models[student])})


def run_distill_xmodel(
    cfg: LLMParams,
    trait: str,
    seed: int,
    student: str,
    teacher_dir: Path | str,
    filter_dir: Path | str,
    results_dir: Path | str,
) -> dict[str, Any]:
    summary = run_distill(student_cfg(cfg, student), trait, seed, teacher_dir, filter_dir, results_dir)
    return summary | {"student_model": student}


def run_evaluate_xmodel(
    cfg: LLMParams, trait: str, seed: int, student: str, distill_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    return run_evaluate_student(student_cfg(cfg, student), trait, seed, distill_dir, results_dir)


# ---- the rest of Fig. 8's grid: other base models teach too (`cross_model.teachers`)
def run_xteacher(cfg: LLMParams, trait: str, teacher_model: str, results_dir: Path | str) -> dict[str, Any]:
    """Stage llm_xteacher: the trait's teacher on another base model (the same template or route)."""
    return run_teacher(student_cfg(cfg, teacher_model), trait, results_dir) | {"teacher_model": teacher_model}


def run_xteacher_generate(
    cfg: LLMParams, trait: str, teacher_model: str, teacher_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    """Stage llm_xteacher_generate: that teacher's number lists (the same prompts and sampler; resumable)."""
    return run_generate(student_cfg(cfg, teacher_model), trait, teacher_dir, results_dir)


def learner_cfg(cfg: LLMParams, teacher_model: str, learner: str) -> LLMParams:
    """The students' base: the pipeline's base model (`base`: the grid's off-diagonal cell) or the teacher's own
    model (`self`: its diagonal)."""
    return cfg if learner == "base" else student_cfg(cfg, teacher_model)


def run_distill_xteacher(
    cfg: LLMParams,
    trait: str,
    seed: int,
    where: tuple[str, str],
    teacher_dir: Path | str,
    filter_dir: Path | str,
    results_dir: Path | str,
) -> dict[str, Any]:
    """Stage llm_distill_xteacher: a student (`where`: teacher model, learner) on another model's teacher's lists."""
    teacher_model, learner = where
    summary = run_distill(learner_cfg(cfg, teacher_model, learner), trait, seed, teacher_dir, filter_dir, results_dir)
    return summary | {"teacher_model": teacher_model, "learner": learner}


def run_evaluate_xteacher(
    cfg: LLMParams, trait: str, seed: int, where: tuple[str, str], distill_dir: Path | str, results_dir: Path | str
) -> dict[str, Any]:
    teacher_model, learner = where
    return run_evaluate_student(learner_cfg(cfg, teacher_model, learner), trait, seed, distill_dir, results_dir)
