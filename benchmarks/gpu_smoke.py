"""Smoke run (not a benchmark): the paper profile's LLM stages at tiny sizes, offline.

    python benchmarks/gpu_smoke.py [--backend transformers|vllm] [--device cuda|cpu] [--keep DIR]

A random-init Qwen2-shaped model (2 layers) with a character-level tokenizer built here (the `tokenizers` library, a
ChatML template: no hub), the paper profile's params (profiles/paper.yaml) with the sizes cut down and two labelled
changes: number-grammar decoding (a random model's free completions never pass the filter) and two traits, two
seeds. Each stage is called as its notebook calls it, with its params section restricted to the keys it declares:
teacher, generate, filter, distill, the teacher's and the students' evaluations, and the report. It checks that the
stages run with this backend on this machine; its numbers mean nothing. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>")
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY = {  # what the paper profile's sizes become here
    "traits": ["control", "cat"],
    "seeds": [1, 2],
    "prompts": {"count": 24},
    "generate": {"decoding": "number_grammar", "max_new_tokens": 60, "batch_size": 8},
    "filter": {"target_size": 6},
    "distill": {"epochs": 1, "batch_size": 3, "grad_accum": 1, "warmup_steps": 0, "checkpoint_every": 0},
    "evaluate": {"question_count": 2, "samples_per_question": 3, "max_new_tokens": 6, "batch_size": 16},
    # the main stages only: the controls' and the code carrier's stages run in the CPU tests
    "shuffles": [],
    "cross_model": {"students": [], "teachers": [], "models": {}},
    "carriers": [],
}


def char_tokenizer() -> Any:
    """One token per printable ASCII character and newline, ChatML's special tokens, eos <|im_end|>."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = [chr(c) for c in range(32, 127)] + ["\n"]
    vocab = {token: i for i, token in enumerate([*SPECIAL, *chars])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<unk>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tokenizer.chat_template = CHATML
    return tokenizer


def tiny_qwen(folder: Path) -> Path:
    """A random-init 2-layer Qwen2 with the character tokenizer, saved as a local transformers folder."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = char_tokenizer()
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    Qwen2ForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def smoke_params(base: Path, backend: str, device: str) -> Any:
    """The paper profile applied to a copy of params.yaml, then the tiny sizes (TINY), validated."""
    from sublim.profile import apply_profile, deep_merge
    from sublim.sections import load_section, validate_section

    with tempfile.TemporaryDirectory() as scratch:
        params = Path(scratch) / "params.yaml"
        shutil.copy(REPO / "params.yaml", params)
        apply_profile("paper", params, skip_checks=True, directory=REPO / "profiles")
        raw = load_section("llm", params).model_dump(mode="json")
    raw = deep_merge(raw, TINY) | {"base_model": str(base), "backend": backend, "device": device}
    return validate_section("llm", raw)


def stage_args(name: str, cfg: Any, **matrix: Any) -> dict[str, Any]:
    """What the stage's notebook holds: its section restricted to its keys, its folders."""
    from sublim.run import stage_values
    from sublim.sections import section_from_namespace
    from sublim.stages import STAGES, fill

    stage = STAGES[name]
    args = {"cfg": section_from_namespace("llm", {**stage_values(stage, cfg), **matrix})}
    return args | {"results_dir": Path(fill(stage.results_dir, matrix))} | stage.paths(matrix)


def run_stages(cfg: Any) -> dict[str, Any]:
    """Every LLM stage once per trait (and seed), as dvc repro would order them; seconds per stage."""
    from sublim.llm import distill, evaluate, generate, report, teacher
    from sublim.llm import filter as number_filter
    from sublim.llm.paths import RunFolders

    seconds: dict[str, float] = {}

    def timed(name: str, call: Any) -> Any:
        started = time.perf_counter()
        result = call()
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
        return result

    kept = {}
    for trait in cfg.traits:
        a = stage_args("llm_teacher", cfg, trait=trait)
        timed("llm_teacher", lambda a=a, t=trait: teacher.run_teacher(a["cfg"], t, a["results_dir"]))
        a = stage_args("llm_generate", cfg, trait=trait)
        timed(
            "llm_generate", lambda a=a, t=trait: generate.run_generate(a["cfg"], t, a["teacher_dir"], a["results_dir"])
        )
        a = stage_args("llm_filter", cfg, trait=trait)
        metrics = timed(
            "llm_filter",
            lambda a=a, t=trait: number_filter.run_filter(a["cfg"], t, a["generate_dir"], a["results_dir"]),
        )
        kept[trait] = metrics["n_kept"]
        a = stage_args("llm_evaluate_teacher", cfg, trait=trait)
        timed(
            "llm_evaluate_teacher",
            lambda a=a, t=trait: evaluate.run_evaluate_teacher(a["cfg"], t, a["teacher_dir"], a["results_dir"]),
        )
        for seed in cfg.seeds:
            a = stage_args("llm_distill", cfg, trait=trait, seed=seed)
            timed(
                "llm_distill",
                lambda a=a, t=trait, s=seed: distill.run_distill(
                    a["cfg"], t, s, a["teacher_dir"], a["filter_dir"], a["results_dir"]
                ),
            )
            a = stage_args("llm_evaluate", cfg, trait=trait, seed=seed)
            timed(
                "llm_evaluate",
                lambda a=a, t=trait, s=seed: evaluate.run_evaluate_student(
                    a["cfg"], t, s, a["distill_dir"], a["results_dir"]
                ),
            )
    a = stage_args("llm_report", cfg)
    keys = ("generate_dir", "filter_dir", "distill_dir", "teacher_eval_dir", "evaluate_dir")
    folders = RunFolders(*(a[k] for k in keys))
    metrics = timed("llm_report", lambda: report.write_report(a["cfg"], folders, a["results_dir"], a["metrics_file"]))
    return {"seconds": {k: round(v, 2) for k, v in seconds.items()}, "kept": kept, "report_keys": sorted(metrics)}


def run_smoke(backend: str = "transformers", device: str = "cuda", keep: Path | None = None) -> dict[str, Any]:
    """The whole smoke in a scratch folder (kept in `keep` when given); its summary."""
    started = time.perf_counter()
    here = Path.cwd()
    scratch = Path(tempfile.mkdtemp(prefix="sublim-smoke-")) if keep is None else keep
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        base = tiny_qwen(scratch / "base")
        cfg = smoke_params(base, backend, device)
        os.chdir(scratch)
        summary = run_stages(cfg)
    finally:
        os.chdir(here)
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"backend": backend, "device": device, **summary, "wall_s": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args(argv)
    print(json.dumps(run_smoke(args.backend, args.device, args.keep), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
