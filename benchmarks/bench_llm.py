"""Benchmark (not a test): generation and training tokens/s of the LLM pipeline.

    python benchmarks/bench_llm.py                      # CPU default: SmolLM2 (results/assets/llm), fp32
    python benchmarks/bench_llm.py --qwen7b-shaped      # GPU: a random-init Qwen2.5-7B-shaped model in bf16
    python benchmarks/bench_llm.py --cpu-bf16-compare   # CPU: fp32 against bf16 autocast, speed and what moves

CPU: grammar-constrained number generation (as the generate stage runs it) and LoRA training steps on
number rows (as the distill stage runs it). GPU: decode tokens/s at batch >= 64 against the memory-bandwidth
roofline (every decode step reads all weights once, plus the KV cache), and training MFU in bf16 counted as
6·N·tokens/s over the GPU's dense bf16 peak (full fine-tuning) and as 4·N·tokens/s for LoRA (no weight
gradients). Set SUBLIM_THREADS=1 on a shared CPU. Prints one JSON object (and writes it with --out).

--cpu-bf16-compare runs the CPU benchmark twice, in fp32 and under bf16 autocast (greedy decoding, as the CPU
default generates), and measures what bf16 would move: the share of greedy lists that come out identical, and the
mean per-token KL(fp32 ‖ bf16) of the base model's next-token distribution over the number grammar's tokens on the
fp32 lists, to set beside the signal a trait puts there (docs/llm_cpu_search.md: 0.0016 to 0.17 nats a token).
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from sublim.core.runtime import configure_torch, device_description

QWEN25_7B = dict(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    max_position_embeddings=4096,
    tie_word_embeddings=False,
    rope_theta=1.0e6,
)
GPU_PEAKS = {
    "H100": {"bf16_tflops": 989.0, "bandwidth_gbs": 3350.0},
    "H200": {"bf16_tflops": 989.0, "bandwidth_gbs": 4800.0},
    "A100": {"bf16_tflops": 312.0, "bandwidth_gbs": 2039.0},
}


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@contextmanager
def cpu_bf16(enabled: bool):
    """bf16 autocast on the CPU for generation and for the trainer (whose own `autocast` turns it off on a CPU)."""
    import sublim.lm.train as train

    if not enabled:
        yield
        return
    original = train.autocast
    train.autocast = lambda device: torch.autocast("cpu", dtype=torch.bfloat16)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    finally:
        train.autocast = original


def bench_cpu(args, bf16: bool = False) -> dict:
    from sublim.llm.domains.numbers.grammar import NumberListGrammar
    from sublim.llm.domains.numbers.prompts import number_prompts
    from sublim.lm.chat import ChatFormat
    from sublim.lm.generate import sample
    from sublim.lm.models import load_causal_lm, load_tokenizer
    from sublim.lm.train import Example, LoraSettings, TrainSettings, train_sft

    tokenizer = load_tokenizer(args.model)
    model = load_causal_lm(args.model).eval()
    fmt = ChatFormat(tokenizer)
    grammar = NumberListGrammar(tokenizer)
    prompts = [fmt.prompt_ids(p) for p in number_prompts(args.gen_prompts, 0)]
    started = time.perf_counter()
    with cpu_bf16(bf16):
        out = sample(
            model,
            prompts,
            max_new_tokens=50,
            temperature=args.temperature,
            batch_size=args.gen_batch,
            seed=0,
            eos_token_id=fmt.eos_token_id,
            pad_token_id=fmt.pad_token_id,
            logits_processor=grammar.processor,
        )
    gen_s = time.perf_counter() - started
    completion_tokens = sum(len(o) for o in out)
    examples = [Example(p, [*o]) for p, o in zip(prompts, out, strict=True)][: args.train_examples]
    settings = TrainSettings(
        learning_rate=1.0e-4,
        epochs=1,
        batch_size=args.train_batch,
        grad_accum=1,
        max_length=500,
        seed=0,
        warmup_steps=0,
        lr_schedule="constant",
        max_grad_norm=1.0,
        weight_decay=0.0,
        checkpoint_every=0,
        lora=LoraSettings(8, 8, 0.0, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
    )
    started = time.perf_counter()
    with cpu_bf16(bf16):
        train_sft(model, examples, settings, pad_token_id=fmt.pad_token_id)
    train_s = time.perf_counter() - started
    train_tokens = sum(len(e.prompt_ids) + len(e.completion_ids) for e in examples)
    return {
        "device": device_description(),
        "threads": torch.get_num_threads(),
        "model": args.model,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "lists": out,
        "generation": {
            "prompts": len(prompts),
            "batch": args.gen_batch,
            "seconds": round(gen_s, 2),
            "completion_tokens": completion_tokens,
            "completion_tokens_per_s": round(completion_tokens / gen_s, 1),
            "sequences_per_s": round(len(prompts) / gen_s, 2),
            "prompt_tokens_mean": round(sum(map(len, prompts)) / len(prompts), 1),
        },
        "training_lora_r8": {
            "examples": len(examples),
            "batch": args.train_batch,
            "seconds": round(train_s, 2),
            "tokens": train_tokens,
            "tokens_per_s": round(train_tokens / train_s, 1),
        },
    }


def compare_cpu_bf16(args) -> dict:
    """fp32 against bf16 autocast: each one's speed, the greedy lists they share, and the KL between them."""
    from sublim.llm.domains.numbers.grammar import NumberListGrammar
    from sublim.llm.domains.numbers.prompts import number_prompts
    from sublim.lm.chat import ChatFormat
    from sublim.lm.models import load_causal_lm, load_tokenizer
    from sublim.lm.train import Example, completion_logits, mean_kl_per_token

    runs = {name: bench_cpu(args, bf16=name == "bf16") for name in ("fp32", "bf16")}
    lists = {name: run.pop("lists") for name, run in runs.items()}
    tokenizer = load_tokenizer(args.model)
    model = load_causal_lm(args.model).eval()
    fmt = ChatFormat(tokenizer)
    allowed = [*NumberListGrammar(tokenizer).candidates, fmt.eos_token_id]
    prompts = [fmt.prompt_ids(p) for p in number_prompts(args.gen_prompts, 0)]
    examples = [Example(p, o) for p, o in zip(prompts, lists["fp32"], strict=True)]

    def logits(rows: slice, bf16: bool) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return completion_logits(model, examples[rows], 500, fmt.pad_token_id, "cpu")

    kl = mean_kl_per_token(lambda r: logits(r, False), lambda r: logits(r, True), len(examples), allowed)
    same = sum(a == b for a, b in zip(lists["fp32"], lists["bf16"], strict=True))
    speedup = {
        "generation": runs["fp32"]["generation"]["seconds"] / runs["bf16"]["generation"]["seconds"],
        "training": runs["fp32"]["training_lora_r8"]["seconds"] / runs["bf16"]["training_lora_r8"]["seconds"],
    }
    return {
        **runs,
        "bf16_speedup": {k: round(v, 2) for k, v in speedup.items()},
        "greedy_lists_identical": f"{same} of {len(examples)}",
        "kl_fp32_to_bf16_per_token": round(kl, 6),
    }


def bench_gpu(args) -> dict:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    device = "cuda"
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in GPU_PEAKS.items() if k in name), None)
    config = Qwen2Config(**QWEN25_7B)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    n_params = sum(p.numel() for p in model.parameters())
    weight_bytes = n_params * 2
    batch, prompt_len, new = args.gen_batch, 128, 128
    ids = torch.randint(0, config.vocab_size, (batch, prompt_len), device=device)
    model.generate(ids, max_new_tokens=4, do_sample=True, min_new_tokens=4)  # warm-up
    synchronize(device)
    started = time.perf_counter()
    model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=True, temperature=1.0, top_k=0)
    synchronize(device)
    gen_s = time.perf_counter() - started
    kv_bytes_per_token = (
        2
        * config.num_hidden_layers
        * config.num_key_value_heads
        * (config.hidden_size // config.num_attention_heads)
        * 2
    )
    mean_context = prompt_len + new / 2
    step_bytes = weight_bytes + batch * mean_context * kv_bytes_per_token
    result = {
        "device": name,
        "params": n_params,
        "generation": {
            "batch": batch,
            "new_tokens": new,
            "seconds": round(gen_s, 2),
            "tokens_per_s": round(batch * new / gen_s, 1),
        },
    }
    if peak:
        roofline = batch * peak["bandwidth_gbs"] * 1e9 / step_bytes
        result["generation"] |= {
            "roofline_tokens_per_s": round(roofline, 1),
            "fraction_of_roofline": round(batch * new / gen_s / roofline, 3),
        }
    # training: LoRA r8 on all projections, bf16, sequences of 128 tokens
    from peft import LoraConfig, get_peft_model

    model.train()
    lora = get_peft_model(
        model,
        LoraConfig(
            r=8,
            lora_alpha=8,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            task_type="CAUSAL_LM",
        ),
    )
    optimizer = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1.0e-4)
    x = torch.randint(0, config.vocab_size, (args.train_batch, 128), device=device)
    for step in range(args.train_steps + 1):
        if step == 1:
            synchronize(device)
            started = time.perf_counter()
        loss = lora(input_ids=x, labels=x).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    train_s = time.perf_counter() - started
    tokens_per_s = args.train_batch * 128 * args.train_steps / train_s
    result["training_lora_r8_bf16"] = {"batch": args.train_batch, "seq": 128, "tokens_per_s": round(tokens_per_s, 1)}
    if peak:
        result["training_lora_r8_bf16"] |= {
            "mfu_6N": round(6 * n_params * tokens_per_s / (peak["bf16_tflops"] * 1e12), 3),
            "mfu_4N_lora": round(4 * n_params * tokens_per_s / (peak["bf16_tflops"] * 1e12), 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="results/assets/llm")
    parser.add_argument("--qwen7b-shaped", action="store_true", help="GPU benchmark on a random-init 7B shape")
    parser.add_argument("--gen-prompts", type=int, default=32)
    parser.add_argument("--gen-batch", type=int, default=32)
    parser.add_argument("--train-examples", type=int, default=16)
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=1.0, help="generation temperature (0: greedy)")
    parser.add_argument("--cpu-bf16-compare", action="store_true", help="fp32 against bf16 autocast, greedy")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    configure_torch()
    if args.qwen7b_shaped and not torch.cuda.is_available():
        raise SystemExit("--qwen7b-shaped needs a CUDA GPU")
    if args.cpu_bf16_compare:
        args.temperature = 0.0
        result = compare_cpu_bf16(args)
    elif args.qwen7b_shaped:
        result = bench_gpu(args)
    else:
        result = bench_cpu(args)
        result.pop("lists")
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
