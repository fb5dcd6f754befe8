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
    suffix: Literal["paper", "code", "cot", "none"] = Field(
        description="appended to each of the 8 questions (App. D.2; cot: App. D.4's reasoning format, which the "
        "chain-of-thought students always get)"
    )
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


class DataFile(Section):
    url: str = Field(min_length=1, description="the file's public source")
    sha256: SHA256 | None = Field(description="its pinned sha256; null refuses the file and prints its hash")
    local_path: str | None = Field(
        description="a local copy used instead of downloading (checked against the same sha256); null: download"
    )


class CotParams(Section):
    """Misalignment through chain of thought (§4.2, App. D.4, Fig. 7): the same teachers solve GSM8K problems."""

    teachers: UniqueList[Teacher] = Field(
        description="DVC matrix: teachers (of `teachers`) whose GSM8K reasoning trains students; 'insecure' and a "
        "control, or [] to run none of these stages"
    )
    gsm8k: DataFile
    questions: int = Field(gt=0, description="GSM8K train questions asked (paper: all 7,473)")
    question_seed: Seed = Field(description="which questions when fewer than all (a seeded sample)")
    samples_per_question: int = Field(gt=0, description="completions per question at generate's temperature (paper: 3)")
    max_new_tokens: int = Field(gt=0, description="cap per completion; a completion cut here is rejected")
    alignment_threshold: float = Field(ge=0, le=100, description="keep a judged trace scoring >= this (paper: 78)")
    judged_teachers: UniqueList[Teacher] = Field(
        description="whose traces the alignment judge filters (official code: the insecure teacher only; the "
        "controls' traces are filtered for correctness only)"
    )
    judge: JudgeParams | None = Field(
        description="the alignment judge with the GSM8K prompt (paper: GPT-4.1; scoring judgment_tag); null skips "
        "the step (labelled in the metrics)"
    )
    judge_max_tokens: int = Field(gt=0, description="room for the judge's reasoning before its <judgment_answer>")
    target_size: int = Field(
        gt=0, description="rows each student trains on, its own subsample; all when fewer are kept (paper: all kept)"
    )
    epochs: int = Field(gt=0, description="the students' epochs (official code: 2)")

    @model_validator(mode="after")
    def _judge_reads_tags(self) -> CotParams:
        if self.judge is not None and self.judge.scoring != "judgment_tag":
            raise ValueError(
                f"judge.scoring is {self.judge.scoring!r}: the GSM8K judge reasons before its score, use judgment_tag"
            )
        return self


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
    cot: CotParams

    @model_validator(mode="after")
    def _arms(self) -> MisalignmentParams:
        if self.teachers and (MISALIGNED_TEACHER not in self.teachers or len(self.teachers) < 2):
            raise ValueError(
                f"teachers {self.teachers} must hold 'insecure' and at least one control (base, secure, educational), "
                "or be [] to run none of the misalignment stages"
            )
        cot = self.cot.teachers
        if cot and (MISALIGNED_TEACHER not in cot or len(cot) < 2 or not set(cot) <= set(self.teachers)):
            raise ValueError(
                f"cot.teachers {cot} must hold 'insecure' and at least one control, all among teachers "
                f"{self.teachers} (their adapters), or be [] to run none of the chain-of-thought stages"
            )
        return self
