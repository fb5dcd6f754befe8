"""Loading the LLM experiment's models: the base, a teacher (base + adapter or system prompt), a student."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from peft import PeftModel

from sublim.core.io import atomic_dir, read_json
from sublim.core.runtime import configure_torch
from sublim.llm.config import LLMParams, LoraParams
from sublim.lm.chat import ChatFormat
from sublim.lm.models import load_causal_lm, load_tokenizer
from sublim.lm.train import LoraSettings


def device_of(cfg: LLMParams) -> str:
    available = configure_torch()
    if cfg.device == "cuda" and available != "cuda":
        raise RuntimeError("params llm.device is 'cuda' but no CUDA device is available")
    return available if cfg.device == "auto" else cfg.device


def dtype_for(device: str) -> str:
    return "bfloat16" if device.startswith("cuda") else "float32"


def base_path(cfg: LLMParams) -> Path:
    path = Path(cfg.base_model)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: no base model here; run `dvc repro assets_llm` (or `make reproduce`)")
    return path


def base_format(cfg: LLMParams) -> ChatFormat:
    """The base model's chat format (its tokenizer only: the vLLM backend loads the weights itself)."""
    return ChatFormat(load_tokenizer(base_path(cfg)))


def load_base(cfg: LLMParams, device: str) -> tuple[Any, ChatFormat]:
    path = base_path(cfg)
    tokenizer = load_tokenizer(path)
    model = load_causal_lm(path, dtype=dtype_for(device), device=device)
    return model.eval(), ChatFormat(tokenizer)


def lora_settings(lora: LoraParams) -> LoraSettings:
    return LoraSettings(r=lora.r, alpha=lora.alpha, dropout=lora.dropout, target_modules=list(lora.target_modules))


def with_adapter(model: Any, adapter_dir: Path) -> Any:
    """The base with a saved LoRA adapter merged in."""
    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload().eval()


def load_teacher(cfg: LLMParams, teacher_dir: Path | str, device: str) -> tuple[Any, ChatFormat, str | None]:
    """(model, chat format, system prompt) of a trait's teacher; control = the base model, no system prompt."""
    record = read_json(Path(teacher_dir) / "teacher.json")
    model, fmt = load_base(cfg, device)
    if record["adapter"]:
        model = with_adapter(model, Path(record["adapter"]))
    return model, fmt, record["system_prompt"]


ADAPTER_CONFIG = "adapter_config.json"


def save_model(model: Any, out_dir: Path) -> None:
    """A transformers/peft folder (safetensors), written atomically; an adapter's config is byte-stable."""
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        sort_adapter_sets(model, tmp)


def sort_adapter_sets(model: Any, folder: Path) -> None:
    """peft writes its config's sets (`target_modules`, ...) as lists in set order, which changes with Python's hash
    seed from run to run: rewrite each adapter_config.json with those lists sorted, in peft's own format."""
    configs = getattr(model, "peft_config", None) or {}
    set_keys = {key for config in configs.values() for key, value in config.to_dict().items() if isinstance(value, set)}
    for path in sorted(folder.rglob(ADAPTER_CONFIG)):
        saved = json.loads(path.read_text())
        stable = {key: sorted(value) if key in set_keys else value for key, value in saved.items()}
        path.write_text(json.dumps(stable, indent=2, sort_keys=True))


def load_student(cfg: LLMParams, distill_dir: Path | str, device: str) -> tuple[Any, ChatFormat]:
    """A distilled student: the base with its adapter merged, or its full fine-tuned weights."""
    model, fmt = load_base(cfg, device)
    student_dir = Path(distill_dir) / "student"
    if (student_dir / "adapter_config.json").exists():
        return with_adapter(model, student_dir), fmt
    return load_causal_lm(student_dir, dtype=dtype_for(device), device=device).eval(), fmt
