"""Helpers of the LLM tests: a small `llm` section, and each stage's arguments as its notebook builds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sublim.run import stage_values
from sublim.sections import load_section, section_from_namespace, validate_section
from sublim.stages import STAGES, fill

REPO = Path(__file__).resolve().parents[2]


def tiny_cfg(base: Path, **distill: Any):
    raw = load_section("llm", REPO / "params.yaml").model_dump(mode="json")
    raw["base_model"] = str(base)
    raw["device"] = "cpu"
    raw["seeds"] = [1, 2]
    raw["prompts"]["count"] = 6
    raw["generate"] |= {"batch_size": 4, "max_new_tokens": 50}
    raw["filter"]["target_size"] = 5
    raw["distill"] |= {"epochs": 2, "batch_size": 2, "checkpoint_every": 1, **distill}
    raw["evaluate"] |= {"question_count": 2, "samples_per_question": 2, "max_new_tokens": 3, "batch_size": 8}
    return validate_section("llm", raw)


def stage_args(name: str, cfg, **matrix: Any) -> dict[str, Any]:
    """What the stage's notebook holds: the section restricted to the stage's keys (as `cfg`), its folders."""
    stage = STAGES[name]
    namespace = {**stage_values(stage, cfg), **matrix}
    return {
        "cfg": section_from_namespace("llm", namespace),
        "results_dir": Path(fill(stage.results_dir, matrix)),
        **{key: Path(path) if "{" not in path else path for key, path in stage.paths(matrix).items()},
    }
