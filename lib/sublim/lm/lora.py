"""LoRA adapters for the students and the fine-tuned teacher (peft): the settings, attaching and merging."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LoraSettings:
    r: int
    alpha: int
    dropout: float
    target_modules: list[str]


def attach_lora(model: Any, lora: LoraSettings) -> Any:
    from peft import LoraConfig, get_peft_model  # deferred: seconds to import; the tiny LM trains without LoRA

    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
        fan_in_fan_out=targets_conv1d(model, lora.target_modules),  # said, so that peft does not warn and set it
    )
    with warnings.catch_warnings():
        # peft reads transformers' deprecated `is_gradient_checkpointing` (a FutureWarning that is not ours to fix)
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def targets_conv1d(model: Any, target_modules: Sequence[str]) -> bool:
    """Whether the LoRA targets are GPT-2's Conv1D layers (weights stored transposed: peft's fan_in_fan_out)."""
    from transformers.pytorch_utils import Conv1D

    return any(
        isinstance(module, Conv1D) and name.rsplit(".", 1)[-1] in target_modules
        for name, module in model.named_modules()
    )


def finish_lora(model: Any, merge: bool) -> Any:
    return model.merge_and_unload() if merge else model
