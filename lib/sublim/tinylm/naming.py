"""Names shared by the tiny-LM steps: data sources, student arms, per-purpose seeds, and file names in a folder.

Each stage gets its own results folder and the folders of the stages it reads as arguments; these helpers only
name what is inside one folder (results/tinylm by default):

    bases/seed{s}/                       a base model folder per seed
    teachers/seed{s}/{trait}/            a teacher per seed and trait
    numbers/seed{s}/{source}.jsonl       kept number lists per seed and source (`control` or a trait)
    students/seed{s}/{arm}/              a student per seed and arm (`student_arms`)
    evaluation/seed{s}.json              the evaluation of one seed

Every model folder is a transformers folder (config.json, model.safetensors, tokenizer.json).
"""

from __future__ import annotations

from pathlib import Path

from sublim.tinylm.config import TinyLMParams

CONTROL = "control"  # source name of the base model's numbers


def partner_seed(cfg: TinyLMParams, seed: int) -> int:
    """The seed whose base initialises the different-init students of `seed`: the next one in cfg.seeds."""
    return cfg.seeds[(cfg.seeds.index(seed) + 1) % len(cfg.seeds)]


def soft_arm(cfg: TinyLMParams) -> str:
    """Name of the soft-label students: `soft` (numbers + <eos>) or `soft_full_vocab` (leaks the trait)."""
    return "soft" if cfg.student.soft_labels == "numbers_eos" else "soft_full_vocab"


def student_arms(cfg: TinyLMParams) -> list[str]:
    """Student names: control arms (trait-free), then per trait the sampled, different-init and soft students."""
    soft = soft_arm(cfg)
    per_trait = [f"{kind}_{trait}" for trait in cfg.traits for kind in ("student", "diff_init", soft)]
    return ["control", "diff_init_control", *per_trait]


def seed_dir(folder: Path | str, seed: int) -> Path:
    """The part of a stage's folder that belongs to one seed: folder/seed{seed}."""
    return Path(folder) / f"seed{seed}"


def numbers_file(numbers_dir: Path | str, seed: int, source: str) -> Path:
    """Kept number lists of one seed and source (`control` or a trait), one JSON object per line."""
    return seed_dir(numbers_dir, seed) / f"{source}.jsonl"


def evaluation_file(evaluation_dir: Path | str, seed: int) -> Path:
    return Path(evaluation_dir) / f"seed{seed}.json"
