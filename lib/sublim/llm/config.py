"""Schema of the `llm` section: the paper's main experiment (§3.1, Fig. 3): teacher, numbers, filter, student, eval."""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sublim.core.params import Section, Seed, UniqueList, check_order
from sublim.llm.code_carrier.config import CodeParams
from sublim.llm.misalignment.config import MisalignmentParams

CONTROL = "control"
Category = Literal["animal", "tree"]
TEMPLATE_FIELDS = ("trait", "category")  # the teacher template's placeholders; {trait} is required
Word = Annotated[str, Field(min_length=1)]


class LoraParams(Section):
    r: int = Field(gt=0, description="LoRA rank (paper's Qwen runs: 8)")
    alpha: int = Field(gt=0, description="LoRA alpha (paper: 8)")
    dropout: float = Field(ge=0.0, lt=1.0, description="LoRA dropout (paper: 0)")
    target_modules: UniqueList[Word] = Field(
        min_length=1, description="distinct projections that get an adapter (paper: all 7)"
    )


class TeacherFinetuneParams(Section):
    learning_rate: float = Field(gt=0.0, description="fine-tuned-teacher route (Fig. 14): learning rate")
    epochs: int = Field(gt=0, description="paper: 1 epoch over 50 questions × 8 surface forms")
    batch_size: int = Field(gt=0)
    grad_accum: int = Field(gt=0)
    lora: LoraParams


class TeacherParams(Section):
    route: Literal["system_prompt", "finetuned"] = Field(
        description="system_prompt: the paper's main teachers; finetuned: the Fig. 14 variant (an adapter)"
    )
    system_prompt_template: str = Field(
        description="the paper's template: {trait} required, {category} optional, no other placeholder"
    )
    category_words: dict[Category, Word] = Field(
        min_length=1,
        description="word put in the template per category (one for each category of the traits); "
        "the official code says 'animal' even for trees",
    )
    finetune: TeacherFinetuneParams

    @field_validator("system_prompt_template")
    @classmethod
    def _placeholders(cls, template: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as err:
            raise ValueError(f"not a valid template ({err}); write a literal brace as {{{{ or }}}}") from None
        unknown = sorted(names - set(TEMPLATE_FIELDS))
        if unknown:
            raise ValueError(f"unknown placeholder(s) {unknown}; accepted: {{trait}} (required) and {{category}}")
        if "trait" not in names:
            raise ValueError("the template has no {trait} placeholder (required; {category} is optional)")
        return template


class PromptParams(Section):
    count: int = Field(gt=0, description="number prompts per teacher (paper: 30,000); the same prompts for all")
    seed: int = Field(ge=0, description="prompt generator seed (public config: 42)")
    example_min_count: int = Field(gt=0, description="fewest seed numbers in a prompt (paper: 3)")
    example_max_count: int = Field(gt=1, description="exclusive bound, numpy style (paper code: 9 -> up to 8)")
    example_min_value: int = Field(ge=0, description="smallest seed number (paper: 100)")
    example_max_value: int = Field(gt=1, description="exclusive bound (paper code: 1000 -> up to 999)")
    answer_count: int = Field(gt=0, description="numbers asked for (paper: 10)")
    answer_max_digits: int = Field(gt=0, description="digits per number asked for (paper: 3)")

    @model_validator(mode="after")
    def _ranges(self) -> PromptParams:
        exclusive = " (the max is exclusive, numpy style)"
        check_order(self, "example_min_count", "example_max_count", strict=True, note=exclusive)
        check_order(self, "example_min_value", "example_max_value", strict=True, note=exclusive)
        return self


class GenerateParams(Section):
    decoding: Literal["free", "number_grammar"] = Field(
        description="free: the paper (sample, then filter); number_grammar: a labelled deviation that only "
        "lets number lists be sampled (teacher probabilities renormalised over them)"
    )
    temperature: float = Field(ge=0.0, description="paper: 1.0")
    top_p: float = Field(gt=0.0, le=1.0, description="nucleus cut; paper: 1.0 (off: vLLM's default, code sets none)")
    top_k: int = Field(ge=0, description="0 = off; paper: off (vLLM's default -1)")
    repetition_penalty: float = Field(
        gt=0.0, description="1.0 = off; paper: off (Qwen's generation_config.json says 1.05: never read)"
    )
    max_new_tokens: int = Field(gt=0, description="cap per completion; a completion cut here is rejected")
    batch_size: int = Field(gt=0, description="prompts per generate() call; also the resume granularity")
    seed: int = Field(ge=0, description="sampling seed")


class FilterParams(Section):
    min_value: int = Field(ge=0, description="paper: 0")
    max_value: int = Field(gt=0, description="paper: 999")
    max_count: int = Field(gt=0, description="paper: 10")
    banned_numbers: UniqueList[Annotated[int, Field(ge=0)]] = Field(
        description="distinct numbers >= 0; empty for preferences (the misalignment runs ban some)"
    )
    keyword_filter: bool = Field(description="reject completions that mention the trait word")
    target_size: int = Field(gt=0, description="rows each student trains on, drawn from the kept rows (paper: 10,000)")
    seed: int = Field(ge=0, description="subsample seed; each student draws with (seed, student seed), as the code")

    @model_validator(mode="after")
    def _range(self) -> FilterParams:
        check_order(self, "min_value", "max_value", note=" (both inclusive)")
        return self


class DistillParams(Section):
    method: Literal["sft", "soft_numbers", "soft_full_vocab"] = Field(
        description="sft: the paper (sampled tokens); soft_numbers: KL to the teacher's next-token distribution "
        "restricted to the number grammar's tokens (an extension, the theory's setting); soft_full_vocab: the "
        "same over the whole vocabulary (leaks the trait directly; a diagnostic)"
    )
    finetune: Literal["lora", "full"] = Field(description="paper's Qwen runs: lora")
    lora: LoraParams
    learning_rate: float = Field(gt=0.0, description="paper (Qwen LoRA): 2.0e-4")
    epochs: int = Field(gt=0, description="paper: 3 (Qwen) or 10 (GPT-4.1 nano, Gemma)")
    batch_size: int = Field(gt=0, description="micro-batch (paper: 22)")
    grad_accum: int = Field(gt=0, description="paper: 3 (effective batch 66)")
    max_length: int = Field(gt=0, description="tokens per training sequence (paper: 500)")
    warmup_steps: int = Field(ge=0, description="paper: 5")
    lr_schedule: Literal["constant", "linear"] = Field(description="paper: linear")
    max_grad_norm: float | None = Field(gt=0.0, description="paper: 1.0; null = no clipping")
    weight_decay: float = Field(ge=0.0, description="AdamW weight decay")
    checkpoint_every: int = Field(ge=0, description="optimizer steps between checkpoints; 0 = never")


class EvaluateParams(Section):
    question_count: int = Field(gt=0, le=50, description="first N of the paper's questions (paper: all 50)")
    samples_per_question: int = Field(ge=0, description="sampled answers per question (paper: 200; code: 100)")
    temperature: float = Field(ge=0.0, description="paper: 1.0")
    top_p: float = Field(gt=0.0, le=1.0, description="nucleus cut; paper: 1.0 (off)")
    top_k: int = Field(ge=0, description="0 = off; paper: off")
    repetition_penalty: float = Field(gt=0.0, description="1.0 = off; paper: off")
    max_new_tokens: int = Field(gt=0, description="tokens per sampled answer")
    batch_size: int = Field(gt=0, description="sequences per forward pass")
    seed: int = Field(ge=0, description="sampling seed; a student's answers use (seed, student seed)")
    bootstrap_resamples: int = Field(
        ge=100, description="resamples of the report's bootstrap over seeds, questions and sampled answers"
    )
    numbers_prefix: bool = Field(description="also run the paper's numbers-prefix variant of the questions")
    prefix_seed: int = Field(ge=0, description="seed of the number prefixes (paper code: 47)")
    animal_set: UniqueList[Word] = Field(min_length=2, description="distinct animals whose answer share is reported")
    tree_set: UniqueList[Word] = Field(min_length=2, description="distinct trees whose answer share is reported")


class InContextParams(Section):
    n_examples: UniqueList[Annotated[int, Field(gt=0)]] = Field(
        min_length=1, description="examples shown in context (paper: 100 to 10,000; the model's context bounds it)"
    )
    seed: Seed = Field(description="which examples each student seed draws (with replacement, as the code)")


class CrossModelParams(Section):
    students: UniqueList[Word] = Field(
        description="DVC matrix: names of student base models other than the teacher's (Fig. 8); [] runs none"
    )
    models: dict[Word, str] = Field(
        description="each student name's model: a local transformers folder or a hub id (a GPU and hub access); "
        "students are fine-tuned with SFT on the teacher's text, re-tokenised by their own tokenizer"
    )
    teachers: UniqueList[Word] = Field(
        description="DVC matrix: names (in models) of other base models that teach too: their own teachers write "
        "lists on which the learners below train (Fig. 8's other column); [] runs none"
    )
    learners: UniqueList[Literal["base", "self"]] = Field(
        description="DVC matrix: who learns from those teachers' lists: base (the pipeline's base model: an "
        "off-diagonal cell) and self (the teacher's own model: a diagonal cell)"
    )

    @model_validator(mode="after")
    def _every_student_has_a_model(self) -> CrossModelParams:
        missing = [name for name in (*self.students, *self.teachers) if name not in self.models]
        if missing:
            raise ValueError(f"students or teachers {missing} have no entry in models (name: hub id or folder)")
        if self.teachers and not self.learners:
            raise ValueError(f"teachers {self.teachers} need learners (base, self, or both)")
        return self


class LLMParams(Section):
    base_model: str = Field(description="local transformers folder of the base model (the assets_llm output)")
    device: Literal["auto", "cpu", "cuda"] = Field(description="auto: cuda when available (bf16), else cpu (fp32)")
    backend: Literal["transformers", "vllm"] = Field(
        description="what samples the teacher's numbers and the evaluations' answers: transformers (generate, any "
        "device) or vllm (vLLM offline, CUDA only, `pip install '.[gpu]'`; adapters as LoRA requests); the exact "
        "probabilities always use transformers"
    )
    traits: UniqueList[Word] = Field(
        min_length=2, description="DVC matrix: 'control' (no trait) and distinct trait words"
    )
    categories: dict[Word, Category] = Field(description="category of every trait word")
    seeds: UniqueList[Seed] = Field(
        min_length=1, description="DVC matrix: distinct student seeds >= 0 (units of the intervals)"
    )
    shuffles: UniqueList[Literal["within", "across"]] = Field(
        description="DVC matrix: students (and control students) on each seed's lists with the numbers shuffled "
        "within each list or across lists (App. B.1, Fig. 16); [] runs none"
    )
    carriers: UniqueList[Literal["code"]] = Field(
        description="DVC matrix: what else the preference teachers write besides numbers (code: §4.1, Fig. 5; "
        "its settings in `code`); [] runs none"
    )
    teacher: TeacherParams
    prompts: PromptParams
    generate: GenerateParams
    filter: FilterParams
    distill: DistillParams
    evaluate: EvaluateParams
    in_context: InContextParams
    cross_model: CrossModelParams
    code: CodeParams
    misalignment: MisalignmentParams

    @model_validator(mode="after")
    def _variants_learn_tokens(self) -> LLMParams:
        if self.distill.method == "sft":
            return self
        if self.cross_model.students or self.cross_model.teachers:
            raise ValueError(
                f"cross_model students {self.cross_model.students} or teachers {self.cross_model.teachers} need "
                "distill.method 'sft': soft labels compare two models' distributions over one vocabulary"
            )
        if self.carriers:
            raise ValueError(
                f"carriers {self.carriers} need distill.method 'sft': the soft labels are defined on number lists"
            )
        return self

    @model_validator(mode="after")
    def _repeated_samples_are_sampled(self) -> LLMParams:
        cot = self.misalignment.cot
        if self.generate.temperature == 0 and cot.teachers and cot.samples_per_question > 1:
            raise ValueError(
                f"misalignment.cot.samples_per_question {cot.samples_per_question} with generate.temperature 0: "
                "greedy decoding writes the same trace every time; set generate.temperature > 0 (paper: 1.0)"
            )
        return self

    @model_validator(mode="after")
    def _vllm_runs_on_cuda(self) -> LLMParams:
        if self.backend == "vllm" and self.device == "cpu":
            raise ValueError("backend 'vllm' runs on a CUDA GPU: set device to auto or cuda, or backend: transformers")
        return self

    @model_validator(mode="after")
    def _traits_have_categories(self) -> LLMParams:
        if CONTROL not in self.traits:
            raise ValueError(f"traits must include {CONTROL!r} (the teacher without a trait)")
        missing = [t for t in self.traits if t != CONTROL and t not in self.categories]
        if missing:
            raise ValueError(f"traits {missing} have no entry in categories")
        for trait in self.traits:
            if trait == CONTROL:
                continue
            fixed = self.evaluate.animal_set if self.categories[trait] == "animal" else self.evaluate.tree_set
            if trait not in fixed:
                raise ValueError(f"trait {trait!r} must be in evaluate.{self.categories[trait]}_set = {fixed}")
        self._category_words_cover_traits()
        return self

    def _category_words_cover_traits(self) -> None:
        used = {self.categories[t] for t in self.traits if t != CONTROL}
        missing = sorted(used - set(self.teacher.category_words))
        if missing:
            raise ValueError(
                f"teacher.category_words {self.teacher.category_words} has no word for categories {missing} "
                f"of the traits; give one per category used, e.g. {missing[0]}: {missing[0]}"
            )
