"""GPU check (a benchmark, not a test): the paper scale's costs on one GPU, offline, in about 8 minutes.

    bash benchmarks/gpu_check.sh                        # the check: each section below in its own process
    python benchmarks/gpu_check.py --dry-run --out F    # every section on tiny shapes on the CPU (checks this script)

Sections (random-init models of the real shapes: the machine needs no hub access):
- peaks: the GPU's spec (bf16 dense TFLOP/s, HBM bandwidth) and what a bf16 matmul and a device copy reach here;
- decode_transformers / decode_vllm: Qwen2.5-7B-shaped decoding in bf16 with each backend at batch 64 and 256
  (prompts of 128 tokens, 128 new ones, each request seeded as the pipeline seeds it), against the memory-bandwidth
  roofline: each decode step reads every weight but the input embedding once, and each sequence's KV cache. Decode
  tokens/s = batch * (new - 1) / (time(new tokens) - time(1 token)), so the prompts' prefill is not counted;
- lora_training: the pipeline's trainer (sublim.lm.train.train_sft) on the 7B shape, LoRA r 8 on all projections as
  the paper, bf16, micro-batches of 8 x 512 tokens; MFU = FLOPs per token x tokens/s / the bf16 peak, with FLOPs
  per token 2 x forward for LoRA (no weight gradients of the frozen base) and 3 x forward conventionally (6N);
  forward = 2 x (parameters in matmuls) + 2 x layers x hidden x sequence (causal attention);
- mnist_paper: the MNIST analogue's paper configuration (100 models, reference, teacher and four students) in fp32
  and in bf16: wall time and each arm's mean accuracy (needs results/assets/mnist/mnist.npz: `make assets`);
- smoke / smoke_vllm: the paper profile's LLM stages at tiny sizes (benchmarks/gpu_smoke.py) with each backend.

Targets (issue 19, one H100/H200-class GPU): MNIST paper configuration <= 30 s; vLLM decode >= 50 % of the bandwidth
roofline at batch >= 64; LoRA training >= 40 % bf16 MFU on the 7B shape. Results: benchmarks/results/gpu_check.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "gpu_check.json"
SECTIONS = ("peaks", "decode_transformers", "lora_training", "mnist_paper", "smoke", "decode_vllm", "smoke_vllm")
QWEN25_7B = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "rope_theta": 1.0e6,
}
TINY = {**QWEN25_7B, "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
TINY |= {"num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512}
# bf16 dense TFLOP/s and HBM TB/s from the vendors' sheets; the first name found in the device's name applies
GPU_SPECS = (
    ("H200", 989.0, 4.8),
    ("H100 NVL", 835.0, 3.9),
    ("H100 PCIe", 756.0, 2.0),
    ("H100", 989.0, 3.35),
    ("A100", 312.0, 2.039),
)
TARGETS = {"mnist_paper_fp32_s": 30.0, "vllm_fraction_of_roofline": 0.5, "lora_mfu": 0.4}
DECODE = {"batches": (64, 256), "prompt": 128, "new": 128}
LORA = {"batch": 8, "seq": 512, "steps": 6}


# ---------------------------------------------------------------- arithmetic (tested on the CPU)


def head_dim(shape: dict[str, Any]) -> int:
    return shape["hidden_size"] // shape["num_attention_heads"]


def param_counts(shape: dict[str, Any]) -> dict[str, int]:
    """Qwen2's parameters: total, the input embedding, and those in matmuls (all but the embedding and norms)."""
    h, inter, vocab = shape["hidden_size"], shape["intermediate_size"], shape["vocab_size"]
    layers = shape["num_hidden_layers"]
    kv = shape["num_key_value_heads"] * head_dim(shape)
    attention = h * h + h + 2 * (h * kv + kv) + h * h  # q (bias), k and v (bias), o
    per_layer = attention + 3 * h * inter + 2 * h  # gate, up, down; two RMSNorms
    embed = vocab * h
    head = 0 if shape["tie_word_embeddings"] else vocab * h
    total = embed + layers * per_layer + h + head
    matmul = layers * (per_layer - 2 * h) + vocab * h  # the output projection is a matmul even when tied
    return {"total": total, "embedding": embed, "matmul": matmul}


def kv_bytes_per_token(shape: dict[str, Any], bytes_per_value: int = 2) -> int:
    return 2 * shape["num_hidden_layers"] * shape["num_key_value_heads"] * head_dim(shape) * bytes_per_value


def decode_step_bytes(shape: dict[str, Any], batch: int, context: float, bytes_per_value: int = 2) -> float:
    """HBM bytes one decode step reads: every weight but the input embedding (only `batch` rows are gathered), and
    each sequence's KV cache of `context` tokens."""
    counts = param_counts(shape)
    weights = (counts["total"] - counts["embedding"]) * bytes_per_value
    return weights + batch * context * kv_bytes_per_token(shape, bytes_per_value)


def roofline_tokens_per_s(shape: dict[str, Any], batch: int, prompt: int, new: int, bandwidth_tbs: float) -> float:
    """Decode tokens/s if every step ran at the bandwidth: batch tokens per step, at the mean context."""
    return batch * bandwidth_tbs * 1e12 / decode_step_bytes(shape, batch, prompt + new / 2)


def training_flops_per_token(shape: dict[str, Any], seq: int, lora: bool) -> float:
    """Forward: 2 per matmul parameter, plus causal attention's 2 x layers x hidden x seq; backward: once more for
    LoRA (input gradients only), twice more for full fine-tuning."""
    forward = 2 * param_counts(shape)["matmul"] + 2 * shape["num_hidden_layers"] * shape["hidden_size"] * seq
    return (2 if lora else 3) * forward


def spec_of(device_name: str) -> dict[str, float] | None:
    for name, tflops, tbs in GPU_SPECS:
        if name in device_name:
            return {"bf16_tflops": tflops, "bandwidth_tbs": tbs}
    return None


def judge(sections: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    """Each target against the sections' numbers: met (True/False), or None when its section did not run or ran on
    tiny shapes (a dry run)."""
    mnist = sections.get("mnist_paper", {}).get("fp32", {}).get("seconds")
    vllm = [b.get("fraction_of_roofline") for b in sections.get("decode_vllm", {}).get("batches", {}).values()]
    mfu = sections.get("lora_training", {}).get("mfu_lora")
    best = max((f for f in vllm if f is not None), default=None)
    values = {"mnist_paper_fp32_s": mnist, "vllm_fraction_of_roofline": best, "lora_mfu": mfu}
    judged = {}
    for key, value in values.items():
        below = key == "mnist_paper_fp32_s"  # a time: at most the target; the others at least
        met = None if value is None or dry_run else (value <= TARGETS[key] if below else value >= TARGETS[key])
        judged[key] = {"value": value, "target": f"{'<=' if below else '>='} {TARGETS[key]}", "met": met}
    return judged


# ---------------------------------------------------------------- sections (each returns a JSON-able dict)


def synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peaks(dry_run: bool) -> dict[str, Any]:
    import torch

    if dry_run:
        return {"device": "cpu (dry run)", "spec": spec_of("H100"), "note": "H100 spec, for the arithmetic only"}
    name = torch.cuda.get_device_name(0)
    size, repeats = 8192, 10
    a, b = (torch.randn(size, size, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    a @ b
    synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize()
    tflops = 2 * size**3 * repeats / (time.perf_counter() - started) / 1e12
    buffer = torch.empty(2**30, dtype=torch.uint8, device="cuda")
    target = torch.empty_like(buffer)
    target.copy_(buffer)
    synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        target.copy_(buffer)
    synchronize()
    copy_tbs = 2 * buffer.numel() * repeats / (time.perf_counter() - started) / 1e12  # bytes read and written
    return {"device": name, "spec": spec_of(name), "measured": {"bf16_matmul_tflops": tflops, "copy_tbs": copy_tbs}}


def build_model(shape: dict[str, Any], device: str) -> Any:
    """A random-init Qwen2 of `shape` in bf16 (fp32 on the CPU), built on the device."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            return Qwen2ForCausalLM(Qwen2Config(**shape)).eval()
    finally:
        torch.set_default_dtype(previous)


def random_prompts(n: int, length: int, vocab: int, seed: int = 0) -> list[list[int]]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab - 1, (n, length), generator=generator).tolist()


def decode_rates(shape, batch, prompt, new, t_one, t_new, spec) -> dict[str, Any]:
    decode_s = max(t_new - t_one, 1e-9)
    result = {"batch": batch, "seconds_1_token": round(t_one, 3), "seconds_all": round(t_new, 3)}
    result["decode_tokens_per_s"] = batch * (new - 1) / decode_s
    if spec:
        roofline = roofline_tokens_per_s(shape, batch, prompt, new, spec["bandwidth_tbs"])
        result |= {"roofline_tokens_per_s": roofline, "fraction_of_roofline": result["decode_tokens_per_s"] / roofline}
    return result


def decode_transformers(dry_run: bool, spec: dict[str, float] | None) -> dict[str, Any]:
    """The pipeline's sampler (sublim.lm.generate.sample: explicit settings, seeded batches) on the 7B shape."""
    from sublim.lm.generate import sample

    shape, device = (TINY, "cpu") if dry_run else (QWEN25_7B, "cuda")
    batches, prompt, new = ((4,), 8, 4) if dry_run else (DECODE["batches"], DECODE["prompt"], DECODE["new"])
    model = build_model(shape, device)
    eos = shape["vocab_size"] - 1  # never sampled in practice: every sequence decodes `new` tokens

    def timed(prompts: list[list[int]], tokens: int) -> float:
        synchronize()
        started = time.perf_counter()
        sample(model, prompts, max_new_tokens=tokens, temperature=1.0, batch_size=len(prompts), seed=0,
               eos_token_id=eos, pad_token_id=0, device=device)  # fmt: skip
        synchronize()
        return time.perf_counter() - started

    timed(random_prompts(2, prompt, shape["vocab_size"]), 2)  # warm-up
    results = {}
    for batch in batches:
        prompts = random_prompts(batch, prompt, shape["vocab_size"])
        results[str(batch)] = decode_rates(shape, batch, prompt, new, timed(prompts, 1), timed(prompts, new), spec)
    return {"shape": "tiny" if dry_run else "Qwen2.5-7B", "prompt": prompt, "new": new, "batches": results}


def decode_vllm(dry_run: bool, spec: dict[str, float] | None) -> dict[str, Any]:
    """vLLM offline on the 7B shape with dummy (random) weights and no tokenizer: token-id prompts, seeded requests."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vllm is not installed (pip install '.[gpu]' on a CUDA machine, Python 3.13)"}
    if dry_run:
        return {"skipped": "dry run: vLLM needs a CUDA GPU"}
    from transformers import Qwen2Config

    from sublim.lm.vllm_backend import import_vllm

    vllm = import_vllm("gpu_check")
    shape, (prompt, new) = QWEN25_7B, (DECODE["prompt"], DECODE["new"])
    with tempfile.TemporaryDirectory() as folder:
        Qwen2Config(**shape).save_pretrained(folder)  # config.json only: load_format="dummy" draws the weights
        started = time.perf_counter()
        engine = vllm.LLM(
            model=folder, load_format="dummy", skip_tokenizer_init=True, dtype="bfloat16", seed=0,
            max_model_len=prompt + new + 16, generation_config="vllm", gpu_memory_utilization=0.85,
        )  # fmt: skip
        startup_s = time.perf_counter() - started

        def timed(prompts: list[list[int]], tokens: int) -> float:
            params = [
                vllm.SamplingParams(n=1, temperature=1.0, max_tokens=tokens, ignore_eos=True, detokenize=False, seed=i)
                for i in range(len(prompts))
            ]
            requests = [vllm.TokensPrompt(prompt_token_ids=p) for p in prompts]
            started = time.perf_counter()
            outputs = engine.generate(requests, params, use_tqdm=False)
            assert all(len(o.outputs[0].token_ids) == tokens for o in outputs)
            return time.perf_counter() - started

        timed(random_prompts(8, prompt, shape["vocab_size"]), 8)  # warm-up
        results = {}
        for batch in DECODE["batches"]:
            prompts = random_prompts(batch, prompt, shape["vocab_size"], seed=batch)
            results[str(batch)] = decode_rates(shape, batch, prompt, new, timed(prompts, 1), timed(prompts, new), spec)
    return {"shape": "Qwen2.5-7B", "prompt": prompt, "new": new, "startup_s": startup_s, "batches": results}


def lora_training(dry_run: bool, spec: dict[str, float] | None) -> dict[str, Any]:
    """Steps of the pipeline's trainer (LoRA r 8, alpha 8, all projections; bf16 autocast on CUDA), timed from the
    second step on."""
    from sublim.lm.lora import LoraSettings
    from sublim.lm.train import Example, TrainSettings, train_sft

    shape, device = (TINY, "cpu") if dry_run else (QWEN25_7B, "cuda")
    batch, seq, steps = (2, 16, 3) if dry_run else (LORA["batch"], LORA["seq"], LORA["steps"])
    model = build_model(shape, device)
    ids = random_prompts(batch * steps, seq, shape["vocab_size"])
    examples = [Example(row[: seq // 4], row[seq // 4 :]) for row in ids]
    projections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    settings = TrainSettings(
        learning_rate=2.0e-4, epochs=1, batch_size=batch, grad_accum=1, max_length=seq, seed=0, warmup_steps=0,
        lr_schedule="constant", max_grad_norm=1.0, weight_decay=0.0, lora=LoraSettings(8, 8, 0.0, projections),
        checkpoint_every=0,
    )  # fmt: skip
    times: list[float] = []

    def on_step(step: int, loss: float) -> None:  # the loss was read: the step is done
        times.append(time.perf_counter())

    train_sft(model, examples, settings, pad_token_id=0, device=device, merge_lora=False, on_step=on_step)
    step_s = (times[-1] - times[0]) / (len(times) - 1)
    tokens_per_s = batch * seq / step_s
    result = {"batch": batch, "seq": seq, "timed_steps": len(times) - 1, "step_s": step_s, "tokens_per_s": tokens_per_s}
    if spec:
        peak = spec["bf16_tflops"] * 1e12
        result["mfu_lora"] = training_flops_per_token(shape, seq, lora=True) * tokens_per_s / peak
        result["mfu_6N"] = 6 * param_counts(shape)["total"] * tokens_per_s / peak
    return result


def mnist_paper(dry_run: bool, spec: dict[str, float] | None) -> dict[str, Any]:
    """The paper configuration end to end (no sweeps), fp32 then bf16: seconds and each arm's mean accuracy."""
    import numpy as np

    from sublim.core.params import read_yaml
    from sublim.core.runtime import configure_torch
    from sublim.mnist.data import MnistData, load_data, prepare_data
    from sublim.mnist.experiment import run_main
    from sublim.mnist.outputs import arm_metrics
    from sublim.sections import validate_section

    cfg = validate_section("mnist", read_yaml(REPO / "params.yaml")["mnist"])
    device = configure_torch()
    if dry_run:
        rng = np.random.default_rng(0)
        images = {k: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for k, n in (("train", 256), ("test", 128))}
        arrays = {f"{k}_images": v for k, v in images.items()}
        arrays |= {f"{k}_labels": rng.integers(0, 10, len(v)) for k, v in images.items()}
        cfg = cfg.model_copy(update={"n_models": 3, "n_train_images": 256, "n_noise_images": 256, "batch_size": 64})
        data: MnistData = prepare_data(arrays, 256, 256, cfg.seed, device)
    elif not (REPO / cfg.mnist_path).exists():
        return {"skipped": f"{cfg.mnist_path} is missing: `make assets` (or copy the MNIST asset here)"}
    else:
        cfg = cfg.model_copy(update={"n_models": 100, "mnist_path": str(REPO / cfg.mnist_path)})
        data = load_data(cfg, device)
    result: dict[str, Any] = {"n_models": cfg.n_models, "device": device}
    for precision in ("fp32", "bf16"):
        run_cfg = cfg.model_copy(update={"precision": precision})
        synchronize()
        started = time.perf_counter()
        arms = arm_metrics(run_main(run_cfg, data, device))["arms"]
        synchronize()
        means = {arm: arms[arm]["mean"] for arm in arms}
        result[precision] = {"seconds": time.perf_counter() - started, "means": means}
    return result


def smoke(dry_run: bool, backend: str) -> dict[str, Any]:
    import importlib.util

    import gpu_smoke

    if backend == "vllm" and (dry_run or importlib.util.find_spec("vllm") is None):
        return {"skipped": "needs vllm on a CUDA GPU (pip install '.[gpu]')"}
    return gpu_smoke.run_smoke(backend, "cpu" if dry_run else "cuda")


def run_section(name: str, dry_run: bool, spec: dict[str, float] | None) -> dict[str, Any]:
    started = time.perf_counter()
    if name == "peaks":
        result = peaks(dry_run)
    elif name in ("smoke", "smoke_vllm"):
        result = smoke(dry_run, "vllm" if name == "smoke_vllm" else "transformers")
    else:
        measure = {"decode_transformers": decode_transformers, "decode_vllm": decode_vllm}
        measure |= {"lora_training": lora_training, "mnist_paper": mnist_paper}
        result = measure[name](dry_run, spec)
    return result | {"section_s": round(time.perf_counter() - started, 1)}


def merge(parts: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "note": "tiny shapes on the CPU: checks the script, measures nothing" if dry_run else "one GPU, random init",
        "sections": parts,
        "targets": judge(parts, dry_run),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", choices=SECTIONS, help="run one section (gpu_check.sh runs each in a process)")
    parser.add_argument("--part", type=Path, help="where --section writes its JSON")
    parser.add_argument("--merge", type=Path, help="folder of the sections' JSON files to merge into --out")
    parser.add_argument("--dry-run", action="store_true", help="every section on tiny shapes on the CPU")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))  # gpu_smoke beside this file
    if args.merge:
        parts = {p.stem: json.loads(p.read_text()) for p in sorted(args.merge.glob("*.json"))}
        ordered = {name: parts[name] for name in SECTIONS if name in parts}
        write(args.out, merge(ordered, dry_run=False))
        return 0
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here: run it on a GPU machine (--dry-run checks it on the CPU)", file=sys.stderr)
        return 2
    names = [args.section] if args.section else list(SECTIONS)
    spec = peaks(True)["spec"] if args.dry_run else spec_of(torch.cuda.get_device_name(0))
    parts = {name: run_section(name, args.dry_run, spec) for name in names}
    if args.section and args.part:
        write(args.part, parts[args.section])
    else:
        write(args.out, merge(parts, args.dry_run))
    return 0


def write(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")
    print(json.dumps(value, indent=2), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
