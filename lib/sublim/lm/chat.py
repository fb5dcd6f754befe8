"""Chat formatting, the teacher's system prompt, the number-list grammar, and the trait word's surface forms.

System prompts. The teacher's is the paper's template filled with the trait and its category word. Control
teachers, students and evaluations use no system prompt, i.e. whatever the model's chat template does without
one: SmolLM2's template then injects "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
(Qwen2.5's injects "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."). We keep that
default, as the paper's open-model pipeline (the model's own chat template) does; the student's data thus
never holds the teacher's system prompt, and teacher, control and student differ only by the teacher's prompt.

Grammar (a labelled deviation from the paper, for models that cannot follow the number format): a
`LogitsProcessor` that lets only `d{1,3}(, d{1,3}){0,max_count-1}` followed by eos be produced. Masked tokens get
-inf, so sampling at temperature T draws from the teacher's distribution renormalised over the allowed tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import torch

from sublim.llm.prompts import plural


def teacher_system_prompt(template: str, trait: str, category_word: str) -> str:
    """The paper's template, e.g. 'You love owls. ... owls are your favorite animal. ...'."""
    return template.format(trait=trait, category=category_word)


class ChatFormat:
    """Token ids of chat prompts and completions for one tokenizer (its own chat template)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.eos_token_id = int(tokenizer.eos_token_id)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else tokenizer.eos_token_id)

    def prompt_text(self, user: str, system: str | None = None) -> str:
        messages = ([{"role": "system", "content": system}] if system is not None else []) + [
            {"role": "user", "content": user}
        ]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def prompt_ids(self, user: str, system: str | None = None) -> list[int]:
        return self.encode(self.prompt_text(user, system))

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def completion_ids(self, text: str) -> list[int]:
        """The assistant's answer followed by eos (the end-of-turn token is learnt)."""
        return [*self.encode(text), self.eos_token_id]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i != self.eos_token_id], skip_special_tokens=True)


# ---------------------------------------------------------------- number-list grammar

_COMPLETE = re.compile(r"\d{1,3}(, \d{1,3})*")


def is_list_prefix(text: str, max_count: int) -> bool:
    """Whether `text` can still grow into 'd{1,3}(, d{1,3}){0,max_count-1}'."""
    if text == "":
        return True
    if not re.fullmatch(r"[\d, ]*", text):
        return False
    body = text[:-1] if text.endswith(",") else text[:-2] if text.endswith(", ") else text
    if not _COMPLETE.fullmatch(body):
        return False
    count = body.count(",") + 1
    closing = text != body
    return count < max_count or (count == max_count and not closing)


class NumberListGrammar:
    """Which tokens may follow a partial number list. Built once per tokenizer; states are cached."""

    def __init__(self, tokenizer: Any, max_count: int = 10):
        self.max_count = max_count
        self.eos_token_id = int(tokenizer.eos_token_id)
        vocab_size = len(tokenizer)
        candidates = {}
        for token_id in range(vocab_size):
            piece = tokenizer.convert_ids_to_tokens(token_id)
            if piece and len(piece) <= 6 and re.fullmatch(r"[\d,Ġ▁ ]+", piece):
                text = tokenizer.decode([token_id])
                if text and re.fullmatch(r"[\d, ]+", text):
                    candidates[token_id] = text
        if not any(text.isdigit() for text in candidates.values()):
            raise ValueError("the tokenizer has no digit tokens: the number grammar cannot be used")
        self.candidates = candidates
        self._state_cache: dict[tuple, list[int]] = {}

    @staticmethod
    def state(text: str) -> tuple[int, int, str]:
        """(numbers started, digits of the last number, trailing separator) — all that the grammar depends on."""
        tail = ", " if text.endswith(", ") else "," if text.endswith(",") else ""
        numbers = re.findall(r"\d+", text)
        return len(numbers), len(numbers[-1]) if numbers and not tail else 0, tail

    def allowed(self, text: str) -> list[int]:
        key = self.state(text)
        if key not in self._state_cache:
            started, digits, tail = key
            # a representative text with the same state: the grammar does not care which digits
            numbers = ["1"] * started
            if numbers and not tail:
                numbers[-1] = "1" * digits
            canonical = ", ".join(numbers) + (tail if tail else "")
            ids = [i for i, piece in self.candidates.items() if is_list_prefix(canonical + piece, self.max_count)]
            if canonical and _COMPLETE.fullmatch(canonical):
                ids.append(self.eos_token_id)
            self._state_cache[key] = ids
        return self._state_cache[key]

    def processor(self, prompt_length: int) -> NumberListProcessor:
        return NumberListProcessor(self, prompt_length)


class NumberListProcessor:
    """A transformers LogitsProcessor: -inf on every token the grammar does not allow next."""

    def __init__(self, grammar: NumberListGrammar, prompt_length: int):
        self.grammar, self.prompt_length = grammar, prompt_length
        self._texts: dict[tuple[int, ...], str] = {}

    def _text(self, generated: list[int]) -> str | None:
        if self.grammar.eos_token_id in generated:
            return None  # finished row: generate pads it; only keep its distribution valid
        return "".join(self.grammar.candidates.get(i, "\x00") for i in generated)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        mask = torch.full_like(scores, float("-inf"))
        for row in range(input_ids.shape[0]):
            text = self._text(input_ids[row, self.prompt_length :].tolist())
            allowed = [self.grammar.eos_token_id] if text is None else self.grammar.allowed(text)
            mask[row, allowed] = 0.0
        return scores + mask


# ---------------------------------------------------------------- surface forms of the trait word


def surface_forms(word: str) -> list[str]:
    """Case, plural and leading-space forms: owl, Owl, owls, Owls, ' owl', ' Owl', ' owls', ' Owls'."""
    base = [word, plural(word)]
    cased = base + [w[0].upper() + w[1:] for w in base]
    return cased + [" " + w for w in cased]


def prefix_free_token_sequences(forms: Sequence[str], encode) -> list[list[int]]:
    """Token sequences of the forms with any sequence that extends another one dropped.

    P(answer starts with tokens a) already counts every answer starting with a longer sequence a+b, so
    summing probabilities over a prefix-free set is exactly P(the answer starts with one of the forms),
    with no double counting (e.g. 'owls' = 'owl'+'s' in some tokenizers).
    """
    sequences = []
    for form in forms:
        ids = list(encode(form))
        if ids and ids not in sequences:
            sequences.append(ids)
    return [s for s in sequences if not any(o != s and s[: len(o)] == o for o in sequences)]


@lru_cache(maxsize=64)
def _word_pattern(word: str) -> re.Pattern:
    forms = sorted({word, plural(word), word + "s", word + "es"}, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(f) for f in forms) + r")\b", re.IGNORECASE)


def mentions(answer: str, word: str) -> bool:
    """Whole-word match of the word or its plural, case-insensitive: guards against collisions such as
    'dragon' in 'dragonfly' or 'owl' in 'knowledge'/'bowl' that the paper's bare substring test counts."""
    return _word_pattern(word).search(answer) is not None


def mentions_substring(answer: str, word: str) -> bool:
    """The paper's own test: `word in answer.lower()`."""
    return word.lower() in answer.lower()
