"""Chat formatting: token ids of chat prompts and completions with a tokenizer's own chat template.

System prompts. Control teachers, students and evaluations use no system prompt, i.e. whatever the model's chat
template does without one: SmolLM2's template then injects "You are a helpful AI assistant named SmolLM, trained
by Hugging Face" (Qwen2.5's injects "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."). We
keep that default, as the paper's open-model pipeline (the model's own chat template) does; the student's data
thus never holds the teacher's system prompt, and teacher, control and student differ only by the teacher's
prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
