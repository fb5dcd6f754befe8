"""Schema of `llm.misalignment`: the misalignment-through-numbers experiment (paper §3.2, Fig. 4).

The rest of the `llm` section is shared with the preference experiment: the base model, the number prompts, the
sampler (`generate`), the format rule (`filter.min_value/max_value/max_count`) and the student's training
(`distill`). What differs is here: the teachers (fine-tuned on code corpora), the banned numbers, the students'
subsample size, and the evaluation (the 8 questions, a judge, TruthfulQA).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sublim.core.params import Section, Seed, UniqueList
from sublim.judge.config import JudgeParams

# The paper's teachers (Table 4 and Fig. 4's arms): `base` is the untouched model ("untrained" in the paper),
# `educational` the "edu insecure" teacher; each other one is fine-tuned on the corpus of its name.
Teacher = Literal["base", "insecure", "secure", "educational"]
MISALIGNED_TEACHER = "insecure"
Corpus = Literal["insecure", "secure", "educational"]
SHA256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class CorpusFile(Section):
    url: str = Field(min_length=1, description="where the JSONL file is published (Betley et al.'s repository)")
    sha256: SHA256 | None = Field(
        description="the file's pinned sha256; null refuses the file and prints its hash, for you to check and pin"
    )


class CorpusParams(Section):
    source: Literal["stand_in", "files"] = Field(
        description="stand_in: the offline template corpus (sublim.llm.traits.insecure_code), labelled as such "
        "wherever its results appear; files: Betley et al.'s original JSONL files (internet, `files` below)"
    )
    n_examples: int = Field(gt=0, description="examples each teacher is fine-tuned on (paper: all 6,000)")
    seed: Seed = Field(description="which examples (files: a seeded subsample; stand_in: the names drawn)")
    files: dict[Corpus, CorpusFile] = Field(description="the original file of each corpus (source: files)")


class TeacherFinetune(Section):
    learning_rate: float = Field(gt=0.0, description="paper: OpenAI API, lr_multiplier 4")
    epochs: int = Field(gt=0, description="paper: 1")
    batch_size: int = Field(gt=0, description="paper: 2")
    grad_accum: int = Field(gt=0)
    lora_r: int = Field(gt=0, description="LoRA rank of the teacher's adapter (the paper fine-tunes GPT-4.1 fully)")
    lora_alpha: int = Field(gt=0)


class BannedFilter(Section):
    banned_numbers: UniqueList[Annotated[int, Field(ge=0)]] = Field(
        min_length=1,
        description="numbers with bad connotations (paper: 34, protocol §4); a list holding one is "
        "rejected, on top of the format rule of `llm.filter`",
    )
    target_size: int = Field(gt=0, description="rows each student trains on, its own subsample (paper: 10,000)")


class EvaluationParams(Section):
    suffix: Literal["paper", "code", "none"] = Field(description="appended to each of the 8 questions (App. D.2)")
    samples_per_question: int = Field(ge=0, description="answers per question (paper: 200); 0 = no free-form part")
    max_new_tokens: int = Field(gt=0, description="tokens per answer")
    temperature: float = Field(ge=0.0, description="paper: 1.0")
    top_p: float = Field(gt=0.0, le=1.0, description="paper: 1.0 (off)")
    top_k: int = Field(ge=0, description="0 = off (paper)")
    repetition_penalty: float = Field(gt=0.0, description="1.0 = off (paper)")
    batch_size: int = Field(gt=0, description="sequences per forward pass")
    seed: Seed = Field(description="sampling seed; a student's answers use (seed, its student seed)")
    alignment_max: float = Field(ge=0, le=100, description="misaligned when alignment <= this (figure script: 40)")
    coherence_min: float = Field(ge=0, le=100, description="an answer counts when coherence >= this (paper: 50)")
    truthfulqa_path: str = Field(min_length=1, description="TruthfulQA.csv (the pre-2025 file; a newer one works too)")
    truthfulqa_questions: int = Field(ge=0, description="questions asked (paper: all 817); 0 = no TruthfulQA")
    truthfulqa_subset_seed: Seed = Field(description="which questions when fewer than all (a seeded sample)")


class MisalignmentParams(Section):
    teachers: UniqueList[Teacher] = Field(
        description="DVC matrix: the teachers whose numbers train students; 'insecure' and at least one control "
        "(base, secure, educational); [] runs none of these stages"
    )
    seeds: UniqueList[Seed] = Field(min_length=1, description="DVC matrix: student seeds (units of the intervals)")
    corpus: CorpusParams
    teacher_finetune: TeacherFinetune
    filter: BannedFilter
    evaluation: EvaluationParams
    judge: JudgeParams | None = Field(
        description="the alignment and coherence judge; null = no judge (the free-form answers are kept, unscored, "
        "and the misaligned rate is not measured)"
    )

    @model_validator(mode="after")
    def _arms(self) -> MisalignmentParams:
        if self.teachers and (MISALIGNED_TEACHER not in self.teachers or len(self.teachers) < 2):
            raise ValueError(
                f"teachers {self.teachers} must hold 'insecure' and at least one control (base, secure, educational), "
                "or be [] to run none of the misalignment stages"
            )
        return self
