"""Schema of the `theory` section: one small imitation step (the paper's Theorem 1, §6.1 and App. C)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sublim.core.params import Section, UniqueList

ImitationLoss = Literal["cross_entropy", "squared_error"]
PositiveInt = Annotated[int, Field(ge=1)]
TokenId = Annotated[int, Field(ge=0)]
MNIST_PIXELS = 784


class StepSizes(Section):
    """Teacher step sizes ε (the sweep and the one the headline metrics use) and the student's step α."""

    epsilon: float = Field(gt=0, description="teacher step size of the headline metrics; must be one of `epsilons`")
    epsilons: UniqueList[Annotated[float, Field(gt=0)]] = Field(
        min_length=1, description="distinct teacher step sizes > 0 swept (first-order regime and beyond)"
    )
    student_lr: float = Field(gt=0, description="student step size α for the change of the teacher's loss L_T")

    @model_validator(mode="after")
    def _headline_in_sweep(self) -> StepSizes:
        if self.epsilon not in self.epsilons:
            raise ValueError(f"epsilon = {self.epsilon} must be one of epsilons = {self.epsilons}")
        return self


class MlpTheory(StepSizes):
    """The MNIST MLP of the paper's §6.2: trait loss = classification of real MNIST images; students see noise."""

    n_trials: int = Field(ge=2, description="independent trials (fresh inits, trait batch and noise inputs each)")
    layer_sizes: list[PositiveInt] = Field(min_length=2, description="784 -> hidden ... -> n_classes + aux logits")
    n_classes: int = Field(
        ge=10, description="the first n_classes outputs are the class logits (MNIST has 10); the rest are aux"
    )
    trait_batch: int = Field(ge=1, description="MNIST train images in the teacher's trait loss, per trial")
    student_batch: int = Field(ge=1, description="uniform [-1, 1] noise images the student imitates on, per trial")
    mnist_path: str = Field(description="the npz written by the assets_mnist stage")

    @model_validator(mode="after")
    def _aux_logits_exist(self) -> MlpTheory:
        if self.layer_sizes[0] != MNIST_PIXELS:
            raise ValueError(
                f"layer_sizes starts with {self.layer_sizes[0]}: the MLP reads MNIST, {MNIST_PIXELS} pixels"
            )
        if self.layer_sizes[-1] <= self.n_classes:
            raise ValueError(
                f"layer_sizes ends in {self.layer_sizes[-1]} outputs: it needs aux logits beyond "
                f"n_classes = {self.n_classes} (e.g. {self.n_classes + 3})"
            )
        return self


class TinyTransformerTheory(StepSizes):
    """A random-init LlamaForCausalLM: trait = one token after a fixed question; students see number tokens."""

    n_trials: int = Field(ge=2, description="independent trials (fresh inits and number sequences each)")
    vocab_size: int = Field(ge=4)
    hidden_size: int = Field(ge=4)
    intermediate_size: int = Field(ge=4)
    num_layers: int = Field(ge=1)
    num_heads: int = Field(ge=1)
    question_tokens: list[TokenId] = Field(min_length=1, description="token ids of the fixed question prompt")
    trait_token: int = Field(ge=0, description="the answer token whose log-probability is the trait loss")
    number_tokens: list[TokenId] = Field(
        min_length=2, max_length=2, description="[low, high) ids of 'number' tokens, low < high"
    )
    student_batch: int = Field(ge=1, description="number sequences per trial")
    student_length: int = Field(ge=1, description="tokens per number sequence")

    @model_validator(mode="after")
    def _tokens_in_vocab(self) -> TinyTransformerTheory:
        low, high = self.number_tokens
        ids = [*self.question_tokens, self.trait_token, low, high - 1]
        if low >= high:
            raise ValueError(f"number_tokens = {self.number_tokens} must be [low, high) with low < high")
        if max(ids) >= self.vocab_size:
            raise ValueError(
                f"question_tokens, trait_token and number_tokens must lie in [0, vocab_size = {self.vocab_size}); "
                f"the largest is {max(ids)}"
            )
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size = {self.hidden_size} must be a multiple of num_heads = {self.num_heads}")
        return self


class SmolLM2Theory(StepSizes):
    """SmolLM2-135M-Instruct (a real chat model): shared init only, a handful of trials; off by default (CPU time)."""

    enabled: bool = Field(description="run this model (about a minute per few trials on one CPU thread)")
    model_dir: str = Field(description="transformers folder written by the assets_llm stage")
    n_trials: int = Field(ge=1)
    question: str = Field(min_length=1, description="user message whose answer is the trait")
    answer: str = Field(min_length=1, description="assistant answer whose -log P is the trait loss, e.g. 'Owl'")
    numbers_per_prompt: int = Field(ge=1, description="random 3-digit numbers shown in each number-list prompt")
    student_batch: int = Field(ge=1, description="number-list prompts per trial")


class TheoryParams(Section):
    seed: int = Field(ge=0, description="base seed; trial t of a model uses seed + t")
    dtype: Literal["float64", "float32"] = Field(description="precision of the MLP and tiny transformer")
    losses: UniqueList[ImitationLoss] = Field(min_length=1, description="distinct student imitation losses L_S")
    mlp: MlpTheory
    tiny_transformer: TinyTransformerTheory
    smollm2: SmolLM2Theory
