"""The sampling backend of the LLM stages, `llm.backend`: transformers' generate (default) or vLLM offline.

vLLM samples the teacher's numbers (llm_generate) and the evaluations' answers (llm_evaluate_teacher, llm_evaluate);
the exact probabilities stay in transformers. A teacher or a student is the base model with its LoRA adapter as a
LoRA request (no merge), or a fully fine-tuned student's own folder. Prompts go in as the chat format's token ids and
completions come back as token ids that it decodes, so the rows and evaluation files keep their fields. vLLM and
CUDA are checked before any work (`check_backend`), stopping with one line that names `llm.backend`.
"""

from __future__ import annotations

import gc
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sublim.core.io import read_json
from sublim.llm.config import LLMParams
from sublim.lm.generate import Sampling
from sublim.lm.vllm_backend import (
    VllmApi,
    adapter_id,
    import_vllm,
    lora_request,
    sample_vllm,
    start_engine,
)

BACKEND_KEY = "llm.backend"
ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_SUFFIXES = (".safetensors", ".json")  # what a model or adapter folder's weights and configs are made of


def check_backend(cfg: LLMParams) -> VllmApi | None:
    """vLLM's API when `llm.backend` is vllm, None for transformers; BackendUnavailable when vLLM or CUDA is missing."""
    return import_vllm(BACKEND_KEY) if cfg.backend == "vllm" else None


@dataclass(frozen=True)
class VllmModel:
    """What vLLM loads: a model folder, and the adapter applied to it as a LoRA request (name and int id)."""

    model: str
    tokenizer: str
    adapter: str | None = None
    name: str = ""
    int_id: int = 0

    def lora_rank(self) -> int | None:
        return int(read_json(Path(self.adapter) / ADAPTER_CONFIG)["r"]) if self.adapter else None

    def digest(self) -> str:
        """sha256 of the weight and config files of the model folder and the adapter (the resume fingerprint's
        "model" on this backend, where no transformers model is loaded to hash)."""
        digest = hashlib.sha256()
        for folder in (self.model, self.adapter):
            if folder is None:
                continue
            for path in sorted(Path(folder).iterdir()):
                if path.is_file() and path.name.endswith(WEIGHT_SUFFIXES):
                    digest.update(f"{path.name}\n".encode())
                    with path.open("rb") as handle:
                        for block in iter(lambda h=handle: h.read(1 << 24), b""):
                            digest.update(block)
        return digest.hexdigest()


def teacher_model(cfg: LLMParams, teacher_dir: Path | str, trait: str) -> VllmModel:
    """The teacher: the base model, with the fine-tuned route's adapter when teacher.json names one."""
    base = absolute(cfg.base_model)
    adapter = read_json(Path(teacher_dir) / "teacher.json")["adapter"]
    if adapter is None:
        return VllmModel(base, base)
    return VllmModel(base, base, absolute(adapter), f"teacher-{trait}", adapter_id("teacher", trait))


def student_model(cfg: LLMParams, distill_dir: Path | str, trait: str, seed: int) -> VllmModel:
    """A student: the base with its LoRA adapter, or its own folder after full fine-tuning (the base's tokenizer)."""
    base, folder = absolute(cfg.base_model), Path(distill_dir) / "student"
    if (folder / ADAPTER_CONFIG).exists():
        name = f"student-{trait}-seed{seed}"
        return VllmModel(base, base, absolute(folder), name, adapter_id("student", trait, seed))
    return VllmModel(absolute(folder), base)


def absolute(path: Path | str) -> str:
    """A local folder as an absolute path: vLLM takes a name it cannot find on disk for a hub id."""
    return str(Path(path).resolve())


class VllmSampler:
    """One engine for one teacher or student; `sample` has `sublim.lm.generate.sample`'s contract (with
    per-request seeds: sublim.lm.vllm_backend)."""

    def __init__(self, vllm: VllmApi, target: VllmModel, *, max_model_len: int, seed: int):
        self.vllm, self.target, self.max_model_len, self.seed = vllm, target, max_model_len, seed
        self.lora = lora_request(vllm, target.name, target.adapter, target.int_id) if target.adapter else None
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        """The engine, started at first use (minutes for a 7B model: not when there is nothing to sample)."""
        if self._engine is None:
            t = self.target
            self._engine = start_engine(
                self.vllm,
                t.model,
                tokenizer=t.tokenizer,
                max_model_len=self.max_model_len,
                seed=self.seed,
                max_lora_rank=t.lora_rank(),
            )
        return self._engine

    def sample(
        self,
        prompts: list[list[int]],
        *,
        sampling: Sampling,
        max_new_tokens: int,
        seed: int,
        eos_token_id: int,
        first_index: int = 0,
        regex: str | None = None,
    ) -> list[list[int]]:
        return sample_vllm(
            self.engine,
            self.vllm,
            prompts,
            sampling=sampling,
            max_new_tokens=max_new_tokens,
            seed=seed,
            eos_token_id=eos_token_id,
            first_index=first_index,
            regex=regex,
            lora=self.lora,
        )


def free_gpu_memory() -> None:
    """Give the memory of dropped transformers models back to the GPU before vLLM measures what it may take."""
    gc.collect()
    import torch  # deferred, as everywhere above the lm layer's models

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def engine_length(prompts: list[list[int]], max_new_tokens: int) -> int:
    """The engine's max_model_len: the longest prompt and its completion (no KV room kept for longer ones)."""
    return max(len(p) for p in prompts) + max_new_tokens


def sampling_of(block: Any) -> Sampling:
    """The sampling settings of a `generate` or `evaluate` params block."""
    return Sampling(block.temperature, block.top_p, block.top_k, block.repetition_penalty)
