"""The number-list grammar (a labelled deviation from the paper, for models that cannot follow the format).

A `LogitsProcessor` that lets only `d{1,3}(, d{1,3}){0,max_count-1}` followed by eos be produced. Masked tokens get
-inf, so sampling at temperature T draws from the teacher's distribution renormalised over the allowed tokens.
`number_list_regex` is the same language as a regex, for vLLM's structured outputs (`llm.backend: vllm`).
"""

from __future__ import annotations

import re
from typing import Any

import torch

_COMPLETE = re.compile(r"\d{1,3}(, \d{1,3})*")


def number_list_regex(max_count: int = 10) -> str:
    """The texts the processor lets through, as a regex (vLLM allows eos once it is complete, as the processor does).
    `[0-9]` where the processor tests Python's `\\d`: the same for byte-level BPE tokenizers (SmolLM2, Qwen2.5), whose
    digit tokens are all ASCII (a tokenizer with other Unicode digit tokens would differ)."""
    if max_count < 1:
        raise ValueError(f"max_count must be at least 1, got {max_count}")
    more = f"(, [0-9]{{1,3}}){{0,{max_count - 1}}}" if max_count > 1 else ""
    return "[0-9]{1,3}" + more


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
