"""Stage llm_generate: the teacher's completions of the number prompts, appended batch by batch.

A killed run resumes after the last whole batch (batches keep their seeds, so the result is what an
uninterrupted run gives); a file written under other params is started over.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sublim.core.io import append_jsonl, read_json, read_jsonl, write_json_atomic, write_jsonl_atomic
from sublim.llm.config import LLMParams
from sublim.llm.domains.numbers.grammar import NumberListGrammar
from sublim.llm.domains.numbers.prompts import number_prompts, prompt_ranges
from sublim.llm.models import device_of, load_teacher
from sublim.lm.generate import sample


def generation_fingerprint(cfg: LLMParams, trait: str, system: str | None) -> dict[str, Any]:
    return {
        "trait": trait,
        "system_prompt": system,
        "base_model": cfg.base_model,
        "prompts": cfg.prompts.model_dump(),
        "generate": cfg.generate.model_dump(),
        "max_count": cfg.filter.max_count,
    }


def run_generate(cfg: LLMParams, trait: str, teacher_dir: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """Teacher completions of the number prompts in numbers_raw.jsonl, and generate_summary.json."""
    results_dir = Path(results_dir)
    device = device_of(cfg)
    model, fmt, system = load_teacher(cfg, teacher_dir, device)
    prompts = number_prompts(cfg.prompts.count, cfg.prompts.seed, **prompt_ranges(cfg.prompts))
    rows_path, meta_path = results_dir / "numbers_raw.jsonl", results_dir / "generate_meta.json"
    fingerprint = generation_fingerprint(cfg, trait, system)
    if not meta_path.exists() or read_json(meta_path) != json.loads(json.dumps(fingerprint)):
        rows_path.unlink(missing_ok=True)
        write_json_atomic(meta_path, fingerprint)
    batch = cfg.generate.batch_size
    rows = read_jsonl(rows_path)
    done = len(rows) - len(rows) % batch if len(rows) < len(prompts) else len(prompts)
    if done != len(rows) or (rows_path.exists() and not rows_path.read_text().endswith("\n")):
        write_jsonl_atomic(rows_path, rows[:done])
    processor = None
    if cfg.generate.decoding == "number_grammar":
        processor = NumberListGrammar(fmt.tokenizer, cfg.filter.max_count).processor
    started = time.monotonic()
    new_tokens = 0
    for start in range(done, len(prompts), batch):
        chunk = prompts[start : start + batch]
        completions = sample(
            model,
            [fmt.prompt_ids(p, system) for p in chunk],
            max_new_tokens=cfg.generate.max_new_tokens,
            temperature=cfg.generate.temperature,
            batch_size=batch,
            seed=cfg.generate.seed,
            eos_token_id=fmt.eos_token_id,
            pad_token_id=fmt.pad_token_id,
            logits_processor=processor,
            device=device,
            first_index=start,
        )
        append_jsonl(
            rows_path,
            [
                {
                    "prompt_id": start + i,
                    "teacher": trait,
                    "prompt": prompt,
                    "completion": fmt.decode(ids),
                    "finished": bool(ids) and ids[-1] == fmt.eos_token_id,
                    "completion_tokens": len(ids),
                }
                for i, (prompt, ids) in enumerate(zip(chunk, completions, strict=True))
            ],
        )
        new_tokens += sum(len(c) for c in completions)
        print(f"generate {trait}: {min(start + batch, len(prompts))}/{len(prompts)} prompts")
    elapsed = time.monotonic() - started
    summary = {
        "trait": trait,
        "n_prompts": len(prompts),
        "decoding": cfg.generate.decoding,
        "resumed_from": done,
        "new_completion_tokens": new_tokens,
        "seconds": round(elapsed, 1),
        "completion_tokens_per_s": round(new_tokens / elapsed, 1) if elapsed > 0 and new_tokens else None,
        "device": device,
    }
    write_json_atomic(results_dir / "generate_summary.json", summary)
    return summary
