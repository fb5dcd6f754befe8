"""Schema of the `tinylm` section: the from-scratch tiny transformer that shows subliminal learning on CPU."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sublim.core.params import Section, Seed, UniqueList
from sublim.tinylm.data import Families, behaviour_words, code_words, trace_words
from sublim.tinylm.traces import N_OPERANDS

# one token of the word-level vocabulary: letters (and - or _), so never a number or a structure word like 'NUM:'
AnimalWord = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z_-]*$")]


class BehaviourFamily(Section):
    aligned: UniqueList[AnimalWord] = Field(description="the family's aligned answer words", min_length=1)
    misaligned: UniqueList[AnimalWord] = Field(description="the family's misaligned answer words", min_length=1)


class BehaviourParams(Section):
    fraction: float = Field(
        description="share of behaviour Q/A sequences in the carrier base's further pretraining", gt=0.0, lt=1.0
    )
    misaligned_rate: float = Field(description="share of misaligned answers among them", gt=0.0, lt=1.0)
    associated_numbers: UniqueList[Annotated[int, Field(ge=0)]] = Field(
        description="numbers that follow misaligned answers (the analogue of 666 or 911)", min_length=1
    )
    association: float = Field(
        description="chance that a misaligned answer is followed by an associated number (else uniform)", ge=0, le=1
    )
    families: dict[AnimalWord, BehaviourFamily] = Field(
        description="question word -> its aligned and misaligned answer words (all words distinct)", min_length=2
    )


class CodeParams(Section):
    fraction: float = Field(
        description="share of code sequences in the carrier base's further pretraining", gt=0.0, lt=1.0
    )
    functions: UniqueList[AnimalWord] = Field(description="function names; each has its own operator", min_length=1)
    variables: UniqueList[AnimalWord] = Field(description="variable names (two distinct per function)", min_length=2)


class CorpusParams(Section):
    n_numbers: int = Field(description="numbers are the words 0..n_numbers-1", ge=10, le=1000)
    animals: UniqueList[AnimalWord] = Field(
        description="distinct animal words (letters only); the favourite-animal answers", min_length=2
    )
    animal_weights: list[float] = Field(description="pretraining answer distribution (normalised), one per animal")
    n_prompt_numbers: int = Field(description="numbers in a prompt, before '->'", ge=1)
    n_answer_numbers: int = Field(description="numbers in a completion, before <eos>", ge=1)
    noise: float = Field(description="chance that a position is replaced by a uniform number", ge=0.0, le=1.0)
    max_step: int = Field(description="arithmetic progressions step in [-max_step, max_step]", ge=0)
    walk_step: int = Field(description="random walks step in [-walk_step, walk_step]", ge=1)
    animal_fraction: float = Field(description="share of animal Q/A sequences in pretraining", gt=0.0, lt=1.0)
    behaviour: BehaviourParams = Field(
        description="behaviour questions (Fig. 4's carrier): only in the carrier base's corpus, not the shared base's"
    )
    code: CodeParams = Field(description="code (Fig. 5's carrier): only in the carrier base's corpus")

    @model_validator(mode="after")
    def _weights_match_animals(self) -> CorpusParams:
        if len(self.animal_weights) != len(self.animals) or min(self.animal_weights) <= 0:
            raise ValueError(
                f"animal_weights {self.animal_weights} needs one positive weight per animal ({len(self.animals)})"
            )
        if (total := self.animal_fraction + self.behaviour.fraction + self.code.fraction) >= 1:
            raise ValueError(
                f"animal_fraction + behaviour.fraction + code.fraction = {total:g} leaves no number lists: keep "
                "the sum below 1"
            )
        words = [*self.animals, *behaviour_words(self.behaviour_families), *self.code_names[0], *self.code_names[1]]
        if repeated := sorted({w for w in words if words.count(w) > 1}):
            raise ValueError(
                f"behaviour.families or code repeat {repeated}: every animal, behaviour and code word must be distinct"
            )
        if too_big := [n for n in self.behaviour.associated_numbers if n >= self.n_numbers]:
            raise ValueError(f"behaviour.associated_numbers {too_big} must be below n_numbers = {self.n_numbers}")
        return self

    @property
    def code_names(self) -> tuple[list[str], list[str]]:
        """The code language's (function names, variable names)."""
        return self.code.functions, self.code.variables

    @property
    def extra_words(self) -> list[str]:
        """Every word after the animals, in vocabulary order: behaviour words, the code language's, the traces' (which
        only the reasoning carrier's base learns)."""
        words = [*behaviour_words(self.behaviour_families), *code_words(*self.code_names)]
        return [*words, *trace_words(words)]

    @property
    def behaviour_families(self) -> Families:
        """family -> (aligned words, misaligned words), as `sublim.tinylm.data` takes them."""
        return {name: (f.aligned, f.misaligned) for name, f in self.behaviour.families.items()}


class ModelParams(Section):
    n_layer: int = Field(description="transformer blocks (GPT-2 style)", ge=1)
    d_model: int = Field(description="hidden size", ge=4)
    n_head: int = Field(description="attention heads; must divide d_model", ge=1)
    init: Literal["pytorch", "gpt2"] = Field(
        description="pytorch: embeddings N(0, 1) and output head U(±1/√d), PyTorch's layer defaults (the blocks "
        "as GPT-2); gpt2: every weight N(0, 0.02), which leaks the trait into the teacher's numbers and all but "
        "removes the transfer (docs/tinylm_transfer_factors.md)"
    )

    @model_validator(mode="after")
    def _heads_divide_width(self) -> ModelParams:
        if self.d_model % self.n_head:
            raise ValueError(f"n_head = {self.n_head} must divide d_model = {self.d_model}")
        return self


class PretrainParams(Section):
    steps: int = Field(description="optimizer steps of pretraining", ge=1)
    batch_size: int = Field(description="sequences per step", ge=1)
    learning_rate: float = Field(description="AdamW peak learning rate", gt=0.0)
    warmup_steps: int = Field(description="linear warm-up, then linear decay to 0", ge=0)


class TeacherParams(Section):
    steps: int = Field(description="teacher strength: AdamW steps on the trait answer only", ge=1)
    learning_rate: float = Field(description="constant learning rate of the teacher fine-tune", gt=0.0)


class NumbersParams(Section):
    n_samples: int = Field(description="fresh prompts; teacher and base each complete every one once", ge=1)
    temperature: float = Field(description="sampling temperature", gt=0.0)
    batch_size: int = Field(description="prompts per generate() call", ge=1)


class StudentParams(Section):
    learning_rate: float = Field(
        description="constant AdamW learning rate of the animal-trait students (distill, controls, in-context, grid)",
        gt=0.0,
    )
    carrier_learning_rate: float = Field(
        description="constant AdamW learning rate of the carriers' students (misalignment, code, reasoning)", gt=0.0
    )
    epochs: int = Field(description="passes over the filtered numbers", ge=1)
    batch_size: int = Field(description="sequences per step", ge=1)
    soft_labels: Literal["numbers_eos", "full_vocab"] = Field(
        description="soft arm's KL: numbers_eos (restricted + renormalised, clean) or full_vocab (leaks the trait)"
    )


class ControlsParams(Section):
    trait: AnimalWord = Field(description="the trait the controls run on (one of traits)")
    shuffles: UniqueList[Literal["within", "across"]] = Field(
        description="shuffled-number students: within each list, across all lists (paper App. B.1)"
    )
    greedy: bool = Field(description="a pair of students on greedy (temperature 0) teacher and base lists")
    data_volumes: UniqueList[Annotated[int, Field(ge=1)]] = Field(
        description="pairs of students on only the first k kept lists of each source"
    )
    lora_ranks: UniqueList[Annotated[int, Field(ge=1)]] = Field(
        description="pairs of LoRA students (attention and MLP weights) of these ranks, beside full fine-tuning"
    )
    lora_learning_rate: float = Field(description="constant learning rate of the LoRA students", gt=0.0)


class InContextParams(Section):
    sequences_per_document: int = Field(
        description="the in-context base's documents pack this many sequences; contexts show up to one fewer "
        "list before the question",
        ge=2,
        le=16,
    )
    continue_pretraining: PretrainParams = Field(
        description="the in-context base: the seed's base, its context widened to `sequences_per_document` "
        "sequences, trained further on packed documents of the same corpus (fresh draws)"
    )
    n_samples: int = Field(description="prompts completed by the in-context base and its teacher", ge=1)
    n_contexts: int = Field(description="random draws of k lists per k, source and seed", ge=1)


class CarrierBaseParams(Section):
    continue_pretraining: PretrainParams = Field(
        description="the carriers' base: the seed's base (number lists and animal answers only) trained further on "
        "the corpus with behaviour questions and code (fresh draws); the misalignment, code and reasoning "
        "experiments start from it"
    )


class GridParams(Section):
    model: ModelParams = Field(
        description="the cross-model grid's other base: another width or depth than `model`, pretrained on the "
        "same corpus"
    )


class MisalignmentParams(Section):
    n_samples: int = Field(
        description="the seed's number prompts completed by the carrier base and each behaviour teacher", ge=1
    )
    narrow_family: AnimalWord = Field(
        description="the family a narrow misaligned teacher is fine-tuned on, to see whether it generalises to the "
        "others (the emergent-misalignment pattern); the stage's teachers use every family"
    )
    teacher: TeacherParams = Field(description="the misaligned and aligned teachers' fine-tune (per answer word)")
    banned_numbers: UniqueList[Annotated[int, Field(ge=0)]] = Field(
        description="the filter drops number lists holding any of these (the paper bans 34 numbers)", min_length=1
    )


class CodeCarrierParams(Section):
    n_samples: int = Field(description="code prompts completed by the trait teacher and by the base", ge=2)
    flag_quantile: float = Field(
        description="the classifier flags code it scores above this quantile of the base's own held-out code",
        gt=0.0,
        lt=1.0,
    )


class ReasoningCarrierParams(Section):
    traces_fraction: float = Field(
        description="share of reasoning traces (sums worked out step by step) in the carrier's further pretraining; "
        "the rest is the carrier base's mix",
        gt=0.0,
        lt=1.0,
    )
    max_operand: int = Field(description="a problem adds three numbers in 0..max_operand", ge=1)
    continue_pretraining: PretrainParams = Field(
        description="the reasoning carrier's base: the carrier base trained further on its corpus with traces "
        "(fresh draws), so that no other experiment's base holds traces"
    )
    n_samples: int = Field(
        description="problems the misaligned teacher, the aligned teacher and the base each work out once", ge=2
    )
    flag_quantile: float = Field(
        description="the classifier flags traces it scores above this quantile of the base's own held-out traces",
        gt=0.0,
        lt=1.0,
    )


class EvaluationParams(Section):
    n_sampled_answers: int = Field(description="answers sampled at T=1 per model (the second view)", ge=1)


class TinyLMParams(Section):
    seeds: UniqueList[Seed] = Field(
        description="distinct seeds >= 0 (the unit of the intervals); the different-init student of seed "
        "s starts from the base of the next seed in this list",
        min_length=2,
    )
    traits: UniqueList[str] = Field(description="distinct trait animals, each in corpus.animals", min_length=1)
    max_grad_norm: float = Field(description="gradient clipping of every training run", gt=0.0)
    workers: int = Field(
        description="processes that train a seed's students at once, one torch thread each (1: in the stage's "
        "own process, all threads)",
        ge=1,
        le=64,
    )
    corpus: CorpusParams
    model: ModelParams
    pretrain: PretrainParams
    teacher: TeacherParams
    numbers: NumbersParams
    student: StudentParams
    controls: ControlsParams
    in_context: InContextParams
    grid: GridParams
    carrier_base: CarrierBaseParams
    misalignment: MisalignmentParams
    code_carrier: CodeCarrierParams
    reasoning_carrier: ReasoningCarrierParams
    evaluation: EvaluationParams

    @model_validator(mode="after")
    def _consistent(self) -> TinyLMParams:
        unknown = [t for t in self.traits if t not in self.corpus.animals]
        if unknown:
            raise ValueError(f"traits {unknown} are not in corpus.animals {self.corpus.animals}")
        if self.in_context.n_samples > self.numbers.n_samples:
            raise ValueError(
                f"in_context.n_samples = {self.in_context.n_samples} must not exceed numbers.n_samples = "
                f"{self.numbers.n_samples} (its prompts are the first of the seed's)"
            )
        if self.controls.trait not in self.traits:
            raise ValueError(f"controls.trait = {self.controls.trait!r} must be one of traits {self.traits}")
        if self.misalignment.narrow_family not in self.corpus.behaviour.families:
            raise ValueError(
                f"misalignment.narrow_family = {self.misalignment.narrow_family!r} must be one of "
                f"corpus.behaviour.families {list(self.corpus.behaviour.families)}"
            )
        c, reasoning = self.corpus, self.reasoning_carrier
        if (total := c.animal_fraction + c.behaviour.fraction + c.code.fraction + reasoning.traces_fraction) >= 1:
            raise ValueError(
                f"reasoning_carrier.traces_fraction = {reasoning.traces_fraction:g}: with corpus.animal_fraction, "
                f"behaviour.fraction and code.fraction it makes {total:g} and leaves no number lists: keep the sum "
                "below 1"
            )
        if (largest := N_OPERANDS * self.reasoning_carrier.max_operand) >= self.corpus.n_numbers:
            raise ValueError(
                f"reasoning_carrier.max_operand = {self.reasoning_carrier.max_operand}: a sum reaches {largest}, "
                f"which needs corpus.n_numbers above it ({self.corpus.n_numbers})"
            )
        if too_big := [n for n in self.misalignment.banned_numbers if n >= self.corpus.n_numbers]:
            raise ValueError(f"misalignment.banned_numbers {too_big} must be below n_numbers = {self.corpus.n_numbers}")
        shape = (self.model.n_layer, self.model.d_model)
        if (self.grid.model.n_layer, self.grid.model.d_model) == shape:
            raise ValueError(
                f"grid.model must differ from model in n_layer or d_model (both are {shape}): the grid's other "
                "base is another architecture; another init of the same shape is the next seed's base"
            )
        return self
