"""Stage llm_generate: the teacher's completions of the number prompts, appended batch by batch.

A killed run resumes after the last whole batch (batches keep their seeds, so the result is what an uninterrupted
run gives). The partial file is trusted only when it was written under the same fingerprint (params, the prompts'
token ids, the teacher's weights and the generating code; in generate_meta.json) and its rows are prompts 0..k-1 in
order, no more than there are prompts; anything else is discarded (one line says why) and generated again. The stage
holds the folder's writer lock, so a second process on it (a runner left behind by a killed `dvc repro`) fails.

`llm.backend` chooses the sampler: transformers' generate, one padded batch of `generate.batch_size` prompts per
call, or vLLM (sublim.llm.backend), one call per `generate.batch_size` prompts that vLLM schedules itself, with the
number grammar as its structured-output regex. Either way a chunk is appended as it completes and resumes keep seeds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sublim.core.fingerprint import differing_keys, ids_digest, model_digest, source_digest
from sublim.core.io import append_jsonl, read_json, read_jsonl, write_json_atomic, write_jsonl_atomic, writer_lock
from sublim.core.runtime import report_timings
from sublim.llm.backend import VllmSampler, check_backend, engine_length, sampling_of, teacher_model
from sublim.llm.config import LLMParams
from sublim.llm.domains.numbers.grammar import NumberListGrammar, number_list_regex
from sublim.llm.domains.numbers.prompts import number_prompts, prompt_ranges
from sublim.llm.models import base_format, device_of, load_teacher
from sublim.lm.chat import ChatFormat
from sublim.lm.generate import sample
from sublim.lm.vllm_backend import VllmApi

ROWS_FILE, META_FILE = "numbers_raw.jsonl", "generate_meta.json"
# the code whose edit changes the rows (prompts, model loading and weights are fingerprinted by their outputs)
GENERATE_CODE = (
    "sublim.llm.generate",
    "sublim.llm.backend",
    "sublim.lm.generate",
    "sublim.lm.vllm_backend",
    "sublim.lm.chat",
    "sublim.llm.domains.numbers.grammar",
    "sublim.core.seeds",
)


def generation_fingerprint(
    cfg: LLMParams, trait: str, system: str | None, sources: dict[str, str] | None = None, numbers: bool = True
) -> dict[str, Any]:
    """The params of the rows and `sources`: digests of the prompts' token ids, the teacher's weights, the code.
    `numbers`: the number prompts (their settings and the grammar's list length count; other prompts, such as
    code tasks, are in the prompts' digest)."""
    number_settings = {"prompts": cfg.prompts.model_dump(), "max_count": cfg.filter.max_count} if numbers else {}
    return {
        "trait": trait,
        "system_prompt": system,
        "base_model": cfg.base_model,
        "backend": cfg.backend,
        **number_settings,
        "generate": cfg.generate.model_dump(),
        **(sources or {}),
    }


def generation_sources(weights: str, prompt_ids: list[list[int]]) -> dict[str, str]:
    """`weights`: the teacher's digest (its loaded weights, or on the vLLM backend its files)."""
    return {"data": ids_digest(prompt_ids), "model": weights, "code": source_digest(*GENERATE_CODE)}


def run_generate(
    cfg: LLMParams,
    trait: str,
    teacher_dir: Path | str,
    results_dir: Path | str,
    prompts: list[str] | None = None,
    rows_file: str = ROWS_FILE,
) -> dict[str, Any]:
    """Teacher completions of the number prompts (or of `prompts`, e.g. code tasks) in `rows_file`, and
    generate_summary.json (no times: the generation's seconds and tokens/s go to the run record,
    `report_timings`)."""
    results_dir = Path(results_dir)
    numbers = prompts is None
    if prompts is None:
        prompts = number_prompts(cfg.prompts.count, cfg.prompts.seed, **prompt_ranges(cfg.prompts))
    with writer_lock(results_dir):
        return _generate(cfg, trait, teacher_dir, results_dir, (prompts, numbers), rows_file)


def _generate(
    cfg: LLMParams,
    trait: str,
    teacher_dir: Path | str,
    results_dir: Path,
    prompts_of: tuple[list[str], bool],
    rows_file: str,
) -> dict[str, Any]:
    prompts, numbers = prompts_of
    vllm = check_backend(cfg)  # before any work: vLLM and CUDA present when llm.backend is vllm
    if vllm is None:
        device = device_of(cfg)
        model, fmt, system = load_teacher(cfg, teacher_dir, device)
        weights = model_digest(model)
    else:  # vLLM loads the weights itself: here only the tokenizer, and the files' digest
        device, model = "cuda", teacher_model(cfg, teacher_dir, trait)
        fmt, system = base_format(cfg), read_json(Path(teacher_dir) / "teacher.json")["system_prompt"]
        weights = model.digest()
    prompt_ids = [fmt.prompt_ids(p, system) for p in prompts]
    fingerprint = generation_fingerprint(cfg, trait, system, generation_sources(weights, prompt_ids), numbers)
    rows_path = results_dir / rows_file
    done = resume_point(rows_path, results_dir / META_FILE, fingerprint, prompts, cfg.generate.batch_size)
    if vllm is None:
        complete = transformers_sampler(cfg, model, fmt, device)
    else:
        complete = vllm_sampler(cfg, vllm, model, fmt, prompt_ids)
    started = time.monotonic()
    new_tokens = 0
    batch = cfg.generate.batch_size
    for start in range(done, len(prompts), batch):
        chunk = prompts[start : start + batch]
        completions = complete(prompt_ids[start : start + batch], start)
        append_jsonl(rows_path, completion_rows(fmt, trait, start, chunk, completions))
        new_tokens += sum(len(c) for c in completions)
        print(f"generate {trait}: {min(start + batch, len(prompts))}/{len(prompts)} prompts")
    elapsed = time.monotonic() - started
    report_timings(
        generate_s=elapsed,
        completion_tokens_per_s=new_tokens / elapsed if elapsed > 0 and new_tokens else None,
    )
    summary = {
        "trait": trait,
        "n_prompts": len(prompts),
        "decoding": cfg.generate.decoding,
        "resumed_from": done,
        "new_completion_tokens": new_tokens,
        "device": device,
        "backend": cfg.backend,
    }
    write_json_atomic(results_dir / "generate_summary.json", summary)
    return summary


Complete = Callable[[list[list[int]], int], list[list[int]]]  # (prompts' ids, index of the first) -> completions


def transformers_sampler(cfg: LLMParams, model: Any, fmt: ChatFormat, device: str) -> Complete:
    """generate() on one padded batch per call, the number grammar as a logits processor."""
    processor = None
    if cfg.generate.decoding == "number_grammar":
        processor = NumberListGrammar(fmt.tokenizer, cfg.filter.max_count).processor
    g = cfg.generate

    def complete(prompt_ids: list[list[int]], start: int) -> list[list[int]]:
        return sample(
            model,
            prompt_ids,
            max_new_tokens=g.max_new_tokens,
            temperature=g.temperature,
            top_p=g.top_p,
            top_k=g.top_k,
            repetition_penalty=g.repetition_penalty,
            batch_size=g.batch_size,
            seed=g.seed,
            eos_token_id=fmt.eos_token_id,
            pad_token_id=fmt.pad_token_id,
            logits_processor=processor,
            device=device,
            first_index=start,
        )

    return complete


def vllm_sampler(cfg: LLMParams, vllm: VllmApi, target: Any, fmt: ChatFormat, prompt_ids: list[list[int]]) -> Complete:
    """One vLLM engine for the teacher (started at the first call: a finished file starts none); the number grammar
    as a structured-output regex."""
    g = cfg.generate
    regex = number_list_regex(cfg.filter.max_count) if g.decoding == "number_grammar" else None
    sampler = VllmSampler(vllm, target, max_model_len=engine_length(prompt_ids, g.max_new_tokens), seed=g.seed)

    def complete(chunk: list[list[int]], start: int) -> list[list[int]]:
        return sampler.sample(
            chunk,
            sampling=sampling_of(g),
            max_new_tokens=g.max_new_tokens,
            seed=g.seed,
            eos_token_id=fmt.eos_token_id,
            first_index=start,
            regex=regex,
        )

    return complete


def completion_rows(
    fmt: ChatFormat, trait: str, start: int, prompts: list[str], completions: list[list[int]]
) -> list[dict[str, Any]]:
    return [
        {
            "prompt_id": start + i,
            "teacher": trait,
            "prompt": prompt,
            "completion": fmt.decode(ids),
            "finished": bool(ids) and ids[-1] == fmt.eos_token_id,
            "completion_tokens": len(ids),
        }
        for i, (prompt, ids) in enumerate(zip(prompts, completions, strict=True))
    ]


def resume_point(rows_path: Path, meta_path: Path, fingerprint: dict[str, Any], prompts: list[str], batch: int) -> int:
    """How many prompts' rows to keep: the whole batches of a partial file that can be trusted, else 0 (the file
    is discarded and generate_meta.json rewritten). The file is cut back to those rows."""
    problem = stale_reason(meta_path, fingerprint)
    rows: list[dict[str, Any]] = []
    if problem is None:
        rows, problem = checked_rows(rows_path, prompts, fingerprint["trait"])
    if problem is not None:
        if rows_path.exists():
            print(f"generate {fingerprint['trait']}: {rows_path} {problem}; discarding it and starting over")
        rows_path.unlink(missing_ok=True)
        write_json_atomic(meta_path, fingerprint)
        return 0
    done = len(rows) - len(rows) % batch if len(rows) < len(prompts) else len(prompts)
    if done != len(rows) or (rows_path.exists() and not rows_path.read_text().endswith("\n")):
        write_jsonl_atomic(rows_path, rows[:done])
    return done


def stale_reason(meta_path: Path, fingerprint: dict[str, Any]) -> str | None:
    """Why rows written under the recorded fingerprint cannot be kept (None: they can)."""
    try:
        saved = read_json(meta_path)
    except FileNotFoundError:
        return f"has no {meta_path.name}"
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"has an unreadable {meta_path.name}"
    differ = differing_keys(saved if isinstance(saved, dict) else {}, fingerprint)
    return f"was written under different {', '.join(differ)}" if differ else None


def checked_rows(rows_path: Path, prompts: list[str], trait: str) -> tuple[list[dict[str, Any]], str | None]:
    """The file's rows if they are prompts 0..k-1 in order (k <= len(prompts)); else ([], what is wrong)."""
    try:
        rows = read_jsonl(rows_path)
    except ValueError as err:
        return [], f"is damaged ({err})"
    if len(rows) > len(prompts):
        return [], f"has {len(rows)} rows for {len(prompts)} prompts"
    for i, row in enumerate(rows):
        expected = {"prompt_id": i, "teacher": trait, "prompt": prompts[i]}
        if not isinstance(row, dict) or any(row.get(key) != value for key, value in expected.items()):
            found = row.get("prompt_id") if isinstance(row, dict) else row
            return [], f"has row {i + 1} for prompt {json.dumps(found)}, not prompt {i} in order"
    return rows, None
