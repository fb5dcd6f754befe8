"""Sampling with vLLM offline (an optional backend: `pip install '.[gpu]'` on a CUDA machine).

Contract: `sample_vllm(engine, vllm, prompts, *, sampling, max_new_tokens, seed, eos_token_id, first_index=0,
regex=None, lora=None) -> list[list[int]]` returns each prompt's completion as token ids, the eos token included when
it was produced and nothing after it, as `sublim.lm.generate.sample` does. What differs, by design:

- Seeds: vLLM seeds requests, not batches, so request i gets `derive_seed(seed, "request", first_index + i)`. A
  completion then does not depend on which prompts share its call, and a resumed run gives what an uninterrupted one
  gives. The transformers backend's outputs differ for the same seed (other kernels, another RNG); vLLM's are
  reproducible on the same hardware and vLLM version, as vLLM documents, with its scheduler in-process
  (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, set by `import_vllm` unless the environment sets it).
- Every sampling setting is explicit (`sampling_params`), and the engine is started with `generation_config="vllm"`,
  so nothing comes from the model's generation_config.json. A request stops at the chat format's eos only
  (`ignore_eos` with `stop_token_ids=[eos]`), as `generate` does here: vLLM would also stop at every eos id that
  generation_config.json lists (Qwen2.5's <|endoftext|> beside <|im_end|>).
- A number-list grammar is vLLM's structured output with a regex (`regex`); adapters are LoRA requests (no merge).

`import_vllm` is the only import of vllm: it returns the classes used here as a `VllmApi`, which every other
function takes as an argument (tests pass stand-ins, and record vLLM's output objects as plain ones with the same
attributes).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sublim.core.seeds import derive_seed
from sublim.lm.generate import Sampling, cut_at_eos

# vLLM accepts these LoRA ranks only (vllm.config.lora.MaxLoRARanks); the engine's max_lora_rank is the next one up
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
TOP_K_OFF = -1  # vLLM's "all tokens" (0 means the same in recent versions; -1 in every version)
GPU_MEMORY_UTILIZATION = 0.85  # share of the GPU for weights and KV cache; headroom for a freed transformers model
FINISHED = ("stop", "length")


class BackendUnavailable(RuntimeError):
    """vLLM or a CUDA GPU is missing; the message names the setting and what to do."""


@dataclass(frozen=True)
class VllmApi:
    """The parts of vLLM used here (vllm.LLM, SamplingParams, TokensPrompt, LoRARequest) and how the installed
    version spells a regex constraint (`regex_params(regex)`: SamplingParams keyword arguments)."""

    LLM: Any
    SamplingParams: Any
    TokensPrompt: Any
    LoRARequest: Any
    regex_params: Callable[[str], dict[str, Any]]


def regex_params_of(sampling_module: Any) -> Callable[[str], dict[str, Any]]:
    """vLLM >= 0.10.2: `structured_outputs=StructuredOutputsParams(regex=...)`; before: `guided_decoding=...`."""
    if hasattr(sampling_module, "StructuredOutputsParams"):
        return lambda regex: {"structured_outputs": sampling_module.StructuredOutputsParams(regex=regex)}
    return lambda regex: {"guided_decoding": sampling_module.GuidedDecodingParams(regex=regex)}


def import_vllm(setting: str = "backend") -> VllmApi:
    """vLLM's classes, or BackendUnavailable (one line naming `setting`) when vLLM or a CUDA GPU is missing."""
    fallback = f"or set {setting}: transformers"
    if importlib.util.find_spec("vllm") is None:
        raise BackendUnavailable(
            f"{setting} is 'vllm' but vllm is not installed: `pip install '.[gpu]'` on a CUDA machine, {fallback}"
        )
    import torch  # deferred: the check costs nothing for the transformers backend

    if not torch.cuda.is_available():
        raise BackendUnavailable(f"{setting} is 'vllm' but torch sees no CUDA GPU: run on a GPU machine, {fallback}")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # deterministic scheduling (vLLM's reproducibility)
    try:
        vllm = importlib.import_module("vllm")
        request = importlib.import_module("vllm.lora.request")
        sampling = importlib.import_module("vllm.sampling_params")
        return VllmApi(vllm.LLM, vllm.SamplingParams, vllm.TokensPrompt, request.LoRARequest, regex_params_of(sampling))
    except Exception as err:  # installed but broken: a torch or CUDA mismatch is the usual cause
        cause = (str(err).splitlines() or [""])[0]  # one line: the traceback is chained
        raise BackendUnavailable(
            f"{setting} is 'vllm' but vllm fails to import ({type(err).__name__}: {cause}): reinstall it with "
            f"`pip install '.[gpu]'`, {fallback}"
        ) from err


def lora_rank(r: int) -> int:
    """The engine's max_lora_rank for an adapter of rank `r`: the smallest rank vLLM accepts that holds it."""
    for rank in LORA_RANKS:
        if r <= rank:
            return rank
    raise ValueError(f"LoRA rank {r} is above vLLM's largest ({LORA_RANKS[-1]})")


def adapter_id(*key: int | str) -> int:
    """A LoRA request's int id (vLLM wants one per adapter, >= 1), derived from names such as ("student", trait,
    seed): stable across processes, distinct across adapters with near certainty (tested on the paper's grid)."""
    return 1 + derive_seed("lora", *key) % (2**31 - 2)


def sampling_params(
    vllm: VllmApi,
    sampling: Sampling,
    *,
    max_tokens: int,
    seed: int,
    eos_token_id: int,
    regex: str | None = None,
) -> Any:
    """One request's SamplingParams: the chosen settings, every other logits-changing setting off, stop at eos only.
    Temperature 0 is greedy (vLLM then ignores top-p and top-k, as `generate` does)."""
    chosen: dict[str, Any] = {"temperature": sampling.temperature}
    if sampling.temperature > 0:
        chosen |= {"top_p": sampling.top_p, "top_k": sampling.top_k if sampling.top_k > 0 else TOP_K_OFF}
    return vllm.SamplingParams(
        n=1,
        seed=seed,
        max_tokens=max_tokens,
        min_tokens=0,
        repetition_penalty=sampling.repetition_penalty,
        presence_penalty=0.0,
        frequency_penalty=0.0,
        min_p=0.0,
        ignore_eos=True,  # the tokenizer's and generation_config.json's eos ids do not stop a request ...
        stop_token_ids=[eos_token_id],  # ... the chat format's eos does, and stays in the token ids
        detokenize=False,  # completions are decoded by the chat format, as for transformers
        **chosen,
        **(vllm.regex_params(regex) if regex is not None else {}),
    )


def token_prompt(vllm: VllmApi, prompt_ids: Sequence[int]) -> Any:
    """A prompt given as token ids (made by the chat format), so vLLM tokenizes nothing."""
    if len(prompt_ids) == 0:
        raise ValueError("empty prompt: give at least one token (e.g. bos)")
    return vllm.TokensPrompt(prompt_token_ids=[int(i) for i in prompt_ids])


def lora_request(vllm: VllmApi, name: str, path: str, int_id: int) -> Any:
    return vllm.LoRARequest(lora_name=name, lora_int_id=int_id, lora_path=str(path))


def completion_ids(output: Any, eos_token_id: int) -> list[int]:
    """A RequestOutput's completion as token ids: eos included when it ended the completion, nothing after it.
    A request that did not finish by eos or by its token cap ("abort", "error", ...) raises."""
    if not output.outputs:
        raise ValueError(f"vLLM request {output.request_id} returned no completion")
    completion = output.outputs[0]
    if completion.finish_reason not in FINISHED:
        raise RuntimeError(f"vLLM request {output.request_id} finished with {completion.finish_reason!r}")
    ids = cut_at_eos([int(i) for i in completion.token_ids], eos_token_id)
    if completion.finish_reason == "stop" and (not ids or ids[-1] != eos_token_id):
        # eos is the only stop token: vLLM keeps it in token_ids; anything else means its API changed under us
        raise RuntimeError(f"vLLM request {output.request_id} stopped without its eos token {eos_token_id} last")
    return ids


def start_engine(
    vllm: VllmApi,
    model: str,
    *,
    tokenizer: str,
    max_model_len: int,
    seed: int,
    max_lora_rank: int | None = None,
) -> Any:
    """An offline engine on one GPU in bf16 (the transformers backend's CUDA dtype); LoRA enabled when an adapter of
    rank `max_lora_rank` will be requested."""
    lora = {"enable_lora": True, "max_lora_rank": lora_rank(max_lora_rank), "max_loras": 1} if max_lora_rank else {}
    return vllm.LLM(
        model=model,
        tokenizer=tokenizer,
        dtype="bfloat16",
        seed=seed,
        max_model_len=max_model_len,
        generation_config="vllm",
        gpu_memory_utilization=GPU_MEMORY_UTILIZATION,
        **lora,
    )


def sample_vllm(
    engine: Any,
    vllm: VllmApi,
    prompts: Sequence[Sequence[int]],
    *,
    sampling: Sampling,
    max_new_tokens: int,
    seed: int,
    eos_token_id: int,
    first_index: int = 0,
    regex: str | None = None,
    lora: Any = None,
) -> list[list[int]]:
    """Completions for every prompt in one call (vLLM batches and schedules them; see the module docstring).
    `first_index` is the index of `prompts[0]` in the full prompt list (requests keep their seeds on resume)."""
    params = [
        sampling_params(
            vllm,
            sampling,
            max_tokens=max_new_tokens,
            seed=derive_seed(seed, "request", first_index + i),
            eos_token_id=eos_token_id,
            regex=regex,
        )
        for i in range(len(prompts))
    ]
    requests = [token_prompt(vllm, p) for p in prompts]
    outputs = engine.generate(requests, params, use_tqdm=False, lora_request=lora)
    if len(outputs) != len(prompts):
        raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
    return [completion_ids(output, eos_token_id) for output in outputs]
