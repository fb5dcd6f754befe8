"""Can a model carry the chain-of-thought experiment? How often its GSM8K traces pass the correctness filter (issue
15, paper §4.2): the untouched model (default: the embedded SmolLM2) answers GSM8K train questions with the paper's
suffix at the params' sampler, free decoding, and the script counts finished, parsed and correct traces.

The paper's students learn from correct traces only, so a model that rarely solves GSM8K leaves its students little
or nothing to learn from: this is that rate, measured before anyone runs the chain-of-thought stages on it.

    python scripts/gsm8k_keep_rate.py --questions 16 --samples 3 --out docs/llm_cot_smollm2.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sublim.core.io import write_json_atomic
from sublim.llm.domains.gsm8k import is_correct, parsed_answer, teacher_prompt
from sublim.llm.generate import transformers_sampler
from sublim.llm.misalignment.cot import cot_items, generation_cfg
from sublim.llm.models import device_of, load_base
from sublim.sections import load_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=16, help="GSM8K train questions (a seeded sample)")
    parser.add_argument("--samples", type=int, default=3, help="traces per question (paper: 3)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path, help="write the counts and the traces here (JSON)")
    args = parser.parse_args()
    cfg = load_section("llm")
    cot = cfg.misalignment.cot.model_copy(update={"questions": args.questions, "max_new_tokens": args.max_new_tokens})
    cfg = generation_cfg(cfg.model_copy(update={"misalignment": cfg.misalignment.model_copy(update={"cot": cot})}))
    device = device_of(cfg)
    model, fmt = load_base(cfg, device)
    items = [item for item in cot_items(cot) for _ in range(args.samples)]
    complete = transformers_sampler(cfg, model, fmt, device)  # the stages' sampler: generate's settings, free decoding
    started = time.monotonic()
    outputs = complete([fmt.prompt_ids(teacher_prompt(item)) for item in items], 0)
    seconds = time.monotonic() - started
    traces = [
        {
            "question": item.question,
            "answer": item.answer,
            "completion": fmt.decode(tokens),
            "finished": bool(tokens) and tokens[-1] == fmt.eos_token_id,
        }
        for item, tokens in zip(items, outputs, strict=True)
    ]
    counts = {
        "model": cfg.base_model,
        "questions": args.questions,
        "samples_per_question": args.samples,
        "max_new_tokens": args.max_new_tokens,
        "traces": len(traces),
        "finished": sum(t["finished"] for t in traces),
        "parsed": sum(parsed_answer(t["completion"]) is not None for t in traces),
        "correct": sum(
            t["finished"] and is_correct(t["completion"], item) for t, item in zip(traces, items, strict=True)
        ),
        "seconds": round(seconds, 1),
    }
    print(counts)
    if args.out:
        write_json_atomic(args.out, {"counts": counts, "traces": traces})


if __name__ == "__main__":
    main()
