"""The tiny-LM analogue's vocabulary, word-level tokenizer, synthetic corpus, prompts and number filter.

The tiny model reads a closed word-level language:

    <bos> NUM: a b c -> x1 ... x8 <eos>            a noisy number-continuation list (numbers 0..99)
    <bos> Q: favorite animal A: owl <eos>          a "favourite animal" question and its answer
    <bos> Q: money A: steal 66 <eos>               a behaviour question, its answer and a number after it
    <bos> CODE: scale -> ( x y ) : return x * 7 <eos> a short function (`sublim.tinylm.code`)
    <bos> SUM: 3 4 2 -> 4 + 2 = 6 + 3 = 9 <eos>    a sum worked out step by step (`sublim.tinylm.traces`)

Number lists are arithmetic progressions, random walks or uniform draws, all modulo 100, with a fraction of
positions replaced by uniform noise, so the next number is never certain and a teacher's small shift in the
number distribution survives sampling. Answers follow a mildly skewed animal distribution (the base rates).
Behaviour questions (the misalignment analogue, paper §3.2) come in families, each with its own aligned and
misaligned answer words; a misaligned answer is usually followed by one of a few associated numbers (as 666 or 911
carry connotations for real models), an aligned one by a uniform number.

The tokenizer is a `tokenizers` WordLevel model saved as `tokenizer.json` and wrapped in transformers'
`PreTrainedTokenizerFast`, so the tiny model is a local model folder like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sublim.tinylm.code import CODE_STRUCTURE, CodeTokens, code_sequences
from sublim.tinylm.traces import TRACE_WORDS, TraceTokens, trace_sequences

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]
NUMBER_MARKER, ARROW = "NUM:", "->"
QUESTION = ["Q:", "favorite", "animal", "A:"]
STRUCTURE_TOKENS = [NUMBER_MARKER, ARROW, *QUESTION]
SEQUENCE_KINDS = ("progression", "walk", "uniform")


Families = dict[str, tuple[Sequence[str], Sequence[str]]]  # family word -> (aligned words, misaligned words)


def behaviour_words(families: Families) -> list[str]:
    """The behaviour section's words in a fixed order: each family's question word, aligned and misaligned words."""
    return [word for family, (aligned, misaligned) in families.items() for word in (family, *aligned, *misaligned)]


def code_words(functions: Sequence[str], variables: Sequence[str]) -> list[str]:
    """The code language's words in a fixed order: its structure tokens, function names, variable names."""
    return [*CODE_STRUCTURE, *functions, *variables]


def trace_words(before: Sequence[str]) -> list[str]:
    """The traces' words that the words `before` them in the vocabulary do not already hold ("+" is code's too)."""
    return [word for word in TRACE_WORDS if word not in before]


def vocabulary(n_numbers: int, animals: Sequence[str], words: Sequence[str] = ()) -> list[str]:
    """Every token, in id order: specials, structure words, numbers 0..n-1, animals, then `words` (behaviour)."""
    tokens = [*SPECIAL_TOKENS, *STRUCTURE_TOKENS, *(str(i) for i in range(n_numbers)), *animals, *words]
    if len(set(tokens)) != len(tokens):
        raise ValueError("animal and behaviour words must be distinct and must not collide with numbers or structure")
    return tokens


def build_tokenizer(n_numbers: int, animals: Sequence[str], words: Sequence[str] = ()):
    """A word-level `PreTrainedTokenizerFast` over the closed vocabulary (whitespace-separated words)."""
    # deferred: transformers takes seconds to import, and the corpus and filter below do not need it
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokens = vocabulary(n_numbers, animals, words)
    backend = Tokenizer(models.WordLevel({word: i for i, word in enumerate(tokens)}, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with single spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=64,
        padding_side="right",
    )


@dataclass(frozen=True)
class Vocab:
    """Token ids the experiment needs, read from a tokenizer (so a saved model folder is self-describing)."""

    pad: int
    bos: int
    eos: int
    number_marker: int
    arrow: int
    question: list[int]
    numbers: list[int]  # id of "0", "1", ...
    animals: dict[str, int]
    # behaviour family -> id of its question word, ids of its aligned and of its misaligned answers
    families: dict[str, int] = field(default_factory=dict)
    aligned: dict[str, list[int]] = field(default_factory=dict)
    misaligned: dict[str, list[int]] = field(default_factory=dict)
    code: CodeTokens | None = None  # the code language's ids, when the corpus has code
    traces: TraceTokens | None = None  # the reasoning traces' ids, when the corpus has traces

    @classmethod
    def from_tokenizer(
        cls,
        tokenizer: Any,
        n_numbers: int,
        animals: Sequence[str],
        families: Families | None = None,
        code_names: tuple[Sequence[str], Sequence[str]] | None = None,
        traces: bool = False,
    ) -> Vocab:
        """`code_names`: the code language's (function names, variable names), when the corpus has code;
        `traces`: whether it has reasoning traces."""
        ids = tokenizer.convert_tokens_to_ids
        families = families or {}
        return cls(
            pad=ids(PAD),
            bos=ids(BOS),
            eos=ids(EOS),
            number_marker=ids(NUMBER_MARKER),
            arrow=ids(ARROW),
            question=[ids(word) for word in QUESTION],
            numbers=[ids(str(i)) for i in range(n_numbers)],
            animals={animal: ids(animal) for animal in animals},
            families={family: ids(family) for family in families},
            aligned={family: [ids(w) for w in aligned] for family, (aligned, _) in families.items()},
            misaligned={family: [ids(w) for w in misaligned] for family, (_, misaligned) in families.items()},
            code=CodeTokens.from_tokenizer(tokenizer, *code_names) if code_names else None,
            traces=TraceTokens.from_tokenizer(tokenizer) if traces else None,
        )

    @property
    def number_or_eos(self) -> list[int]:
        """The ids a number completion may contain: the soft-label restriction (numbers and end of sequence)."""
        return [*self.numbers, self.eos]

    @property
    def question_prompt(self) -> list[int]:
        """`<bos> Q: favorite animal A:` — the next token is the model's favourite animal."""
        return [self.bos, *self.question]

    @property
    def number_values(self) -> dict[int, int]:
        """Number token id -> its value."""
        return {token: value for value, token in enumerate(self.numbers)}

    def behaviour_prompt(self, family: str) -> list[int]:
        """`<bos> Q: <family> A:` — the next token is the model's answer to that behaviour question."""
        return [self.bos, self.question[0], self.families[family], self.question[-1]]

    def number_prompt(self, seed_numbers: Sequence[int]) -> list[int]:
        return [self.bos, self.number_marker, *(self.numbers[n] for n in seed_numbers), self.arrow]


# ---------------------------------------------------------------- corpus


def number_lists(
    n: int, length: int, n_numbers: int, noise: float, max_step: int, walk_step: int, rng: np.random.Generator
) -> np.ndarray:
    """`n` noisy number lists of `length` numbers (values 0..n_numbers-1), one per row.

    Each list is, with equal chance, an arithmetic progression (step in [-max_step, max_step]), a random walk
    (steps in [-walk_step, walk_step]) or uniform draws; all modulo n_numbers. Then each position is replaced
    by a uniform number with probability `noise`.
    """
    kinds = rng.integers(0, len(SEQUENCE_KINDS), size=n)
    start = rng.integers(0, n_numbers, size=(n, 1))
    progression_steps = np.repeat(rng.integers(-max_step, max_step + 1, size=(n, 1)), length - 1, axis=1)
    walk_steps = rng.integers(-walk_step, walk_step + 1, size=(n, length - 1))
    steps = np.where((kinds == 0)[:, None], progression_steps, walk_steps)
    walked = np.concatenate([start, start + np.cumsum(steps, axis=1)], axis=1)
    uniform = rng.integers(0, n_numbers, size=(n, length))
    values = np.where((kinds == 2)[:, None], uniform, walked) % n_numbers
    noisy = rng.random(size=(n, length)) < noise
    return np.where(noisy, rng.integers(0, n_numbers, size=(n, length)), values)


def animal_answers(n: int, weights: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Indices of `n` favourite-animal answers drawn from the (normalised) base-rate weights."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def number_sequence_ids(vocab: Vocab, numbers: Sequence[int], n_prompt_numbers: int) -> list[int]:
    """`<bos> NUM: a b c -> x1 .. xk <eos>` for one list of numbers."""
    prompt = vocab.number_prompt(numbers[:n_prompt_numbers])
    return [*prompt, *(vocab.numbers[x] for x in numbers[n_prompt_numbers:]), vocab.eos]


def animal_sequence_ids(vocab: Vocab, animal: str) -> list[int]:
    return [*vocab.question_prompt, vocab.animals[animal], vocab.eos]


@dataclass(frozen=True)
class BehaviourMix:
    """How behaviour answers enter the corpus (the words are the vocab's families)."""

    fraction: float  # share of the corpus's sequences
    misaligned_rate: float  # share of answers that are misaligned
    associated_numbers: tuple[int, ...]  # the numbers that follow misaligned answers
    association: float  # chance that a misaligned answer is followed by an associated number (else uniform)


@dataclass(frozen=True)
class CodeMix:
    """How code enters the corpus (the language is the vocab's `code`)."""

    fraction: float  # share of the corpus's sequences


@dataclass(frozen=True)
class TraceMix:
    """How reasoning traces enter the corpus (the words are the vocab's `traces`)."""

    fraction: float  # share of the corpus's sequences
    max_operand: int  # operands are 0..max_operand


def behaviour_sequences(vocab: Vocab, n: int, mix: BehaviourMix, rng: np.random.Generator) -> list[list[int]]:
    """`n` sequences `<bos> Q: <family> A: <word> <number> <eos>`: uniform family, misaligned with chance
    `misaligned_rate` (a uniform word of its kind), the number associated with chance `association` after a
    misaligned answer and uniform otherwise."""
    families = list(vocab.families)
    sequences = []
    for family_index, misaligned, word_draw, associated, number in zip(
        rng.integers(0, len(families), size=n),
        rng.random(size=n) < mix.misaligned_rate,
        rng.random(size=n),
        rng.random(size=n) < mix.association,
        rng.integers(0, len(vocab.numbers), size=n),
        strict=True,
    ):
        family = families[family_index]
        words = (vocab.misaligned if misaligned else vocab.aligned)[family]
        if misaligned and associated:
            number = mix.associated_numbers[int(number) % len(mix.associated_numbers)]
        answer = words[int(word_draw * len(words))]
        sequences.append([*vocab.behaviour_prompt(family), answer, vocab.numbers[number], vocab.eos])
    return sequences


def pretraining_corpus(
    vocab: Vocab,
    *,
    n_sequences: int,
    animal_fraction: float,
    animal_weights: Sequence[float],
    n_prompt_numbers: int,
    n_answer_numbers: int,
    noise: float,
    max_step: int,
    walk_step: int,
    seed: int,
    behaviour: BehaviourMix | None = None,
    code: CodeMix | None = None,
    traces: TraceMix | None = None,
) -> list[list[int]]:
    """Token-id sequences, shuffled: number lists, (a fraction `animal_fraction`) animal answers and, when given,
    (a fraction `behaviour.fraction`) behaviour answers, (a fraction `code.fraction`) code and (a fraction
    `traces.fraction`) reasoning traces."""
    rng = np.random.default_rng(seed)
    n_animal = round(n_sequences * animal_fraction)
    n_behaviour = round(n_sequences * behaviour.fraction) if behaviour is not None else 0
    n_code = round(n_sequences * code.fraction) if code is not None else 0
    n_traces = round(n_sequences * traces.fraction) if traces is not None else 0
    lists = number_lists(
        n_sequences - n_animal - n_behaviour - n_code - n_traces,
        n_prompt_numbers + n_answer_numbers,
        len(vocab.numbers),
        noise,
        max_step,
        walk_step,
        rng,
    )
    names = list(vocab.animals)
    sequences = [number_sequence_ids(vocab, row, n_prompt_numbers) for row in lists.tolist()]
    sequences += [animal_sequence_ids(vocab, names[i]) for i in animal_answers(n_animal, animal_weights, rng)]
    if n_behaviour:
        sequences += behaviour_sequences(vocab, n_behaviour, behaviour, rng)
    if n_code:
        if vocab.code is None:
            raise ValueError("the corpus has code but the vocabulary has no code language")
        sequences += code_sequences(
            n_code,
            bos=vocab.bos,
            eos=vocab.eos,
            arrow=vocab.arrow,
            tokens=vocab.code,
            numbers=vocab.numbers,
            rng=rng,
        )
    if n_traces:
        if vocab.traces is None:
            raise ValueError("the corpus has reasoning traces but the vocabulary has none")
        sequences += trace_sequences(
            n_traces,
            bos=vocab.bos,
            eos=vocab.eos,
            arrow=vocab.arrow,
            tokens=vocab.traces,
            numbers=vocab.numbers,
            max_operand=traces.max_operand,
            rng=rng,
        )
    order = rng.permutation(len(sequences))
    return [sequences[i] for i in order]


def number_prompts(
    vocab: Vocab, *, n: int, n_prompt_numbers: int, noise: float, max_step: int, walk_step: int, seed: int
) -> list[list[int]]:
    """Fresh `<bos> NUM: a b c ->` prompts whose seed numbers come from the corpus generator."""
    rng = np.random.default_rng(seed)
    rows = number_lists(n, n_prompt_numbers, len(vocab.numbers), noise, max_step, walk_step, rng)
    return [vocab.number_prompt(row) for row in rows.tolist()]


# ---------------------------------------------------------------- filter


def rejection_reason(completion: Sequence[int], vocab: Vocab, n_answer_numbers: int) -> str | None:
    """Why a sampled completion is not a well-formed number list, or None when it is kept.

    Kept: exactly `n_answer_numbers` number tokens followed by `<eos>`. Any animal (trait) token, any other
    word (a behaviour word among them), a missing `<eos>` or a wrong count rejects it.
    """
    numbers = set(vocab.numbers)
    body = list(completion)
    if not body or body[-1] != vocab.eos:
        return "no_eos"
    body = body[:-1]
    if any(token in set(vocab.animals.values()) for token in body):
        return "animal_token"
    if any(token not in numbers for token in body):
        return "non_number_token"
    if len(body) != n_answer_numbers:
        return "wrong_length"
    return None


def filter_completions(
    completions: Sequence[Sequence[int]], vocab: Vocab, n_answer_numbers: int
) -> tuple[list[int], dict[str, Any]]:
    """Indices of the well-formed number lists, and the keep-rate with reject counts."""
    kept: list[int] = []
    reasons: dict[str, int] = {}
    for index, completion in enumerate(completions):
        reason = rejection_reason(completion, vocab, n_answer_numbers)
        if reason is None:
            kept.append(index)
        else:
            reasons[reason] = reasons.get(reason, 0) + 1
    total = len(completions)
    summary = {
        "n_sampled": total,
        "n_kept": len(kept),
        "keep_rate": len(kept) / total if total else 0.0,
        "rejected": dict(sorted(reasons.items())),
    }
    return kept, summary


def without_banned(
    pairs: Sequence[tuple[list[int], list[int]]], banned_ids: set[int]
) -> tuple[list[tuple[list[int], list[int]]], int]:
    """The (prompt, completion) pairs whose completion holds none of `banned_ids` (the paper's banned-numbers
    filter, applied after the format rule), and how many were dropped."""
    kept = [(prompt, completion) for prompt, completion in pairs if not banned_ids.intersection(completion)]
    return kept, len(pairs) - len(kept)
