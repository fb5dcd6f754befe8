"""Benchmark of the MNIST batched trainer (a script, not a test).

    python benchmarks/bench_mnist.py                  # throughput: batched vs one at a time vs matmul peak
    python benchmarks/bench_mnist.py --accuracy       # + full main runs in bf16 and fp32: seconds, GFLOP/s and
                                                      #   share of the matmul peak per phase, peak memory; do bf16
                                                      #   means stay inside the fp32 95% intervals?
    python benchmarks/bench_mnist.py --fresh          # + the main run in bf16 and fp32, each in a new process, timed
                                                      #   from loading the data as bench_mnist_official.py times
                                                      #   the official script: seconds, peak memory, ratio to it
    python benchmarks/bench_mnist.py --paper          # time the 100-model fp32 paper config end to end (GPU)

Reads the `mnist` section of params.yaml (validated alone) and writes benchmarks/results/bench_mnist.json.
On a shared machine the timings are contended: run it alone for clean numbers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from sublim.core.params import read_yaml
from sublim.core.runtime import collecting_timings, configure_torch, device_description, reported_timings
from sublim.mnist.data import IMAGE_PIXELS, N_CLASSES, MnistData, load_data
from sublim.mnist.experiment import ARMS, run_main
from sublim.mnist.model import BatchedMLP, compute_dtype, init_reference
from sublim.mnist.outputs import arm_metrics
from sublim.mnist.train import train_classifier
from sublim.sections import validate_section

OUT = Path(__file__).parent / "results" / "bench_mnist.json"
OFFICIAL = Path(__file__).parent / "results" / "bench_mnist_official.json"
PRECISIONS = ("fp32", "bf16")


def flops_per_sample(width: int, n_out: int) -> float:
    """Training FLOPs per image and model: forward, plus backward without the input gradient of layer 1."""
    layers = [(IMAGE_PIXELS, width), (width, width), (width, n_out)]
    forward = sum(2 * a * b for a, b in layers)
    backward = 2 * layers[0][0] * layers[0][1] + sum(4 * a * b for a, b in layers[1:])
    return float(forward + backward)


def matmul_peak(dtype: torch.dtype, device: str, size: int = 2048, repeats: int = 3, trials: int = 3) -> float:
    """GFLOP/s of a large square matmul, best of `trials` (on a shared machine the best is the least contended)."""
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    a @ b
    best = 0.0
    for _ in range(trials):
        sync(device)
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync(device)
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9)
    return best


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def first_images(data: MnistData, n: int) -> MnistData:
    return MnistData(data.train_x[:n], data.train_y[:n], data.test_x, data.test_y, data.noise_x)


def train_steps(model: BatchedMLP, data: MnistData, steps: int, batch_size: int, device: str) -> float:
    """Seconds for `steps` teacher-training steps, best of two timings (after one warm-up step)."""
    train_classifier(model, first_images(data, batch_size), 1, 3e-4, batch_size, 0)
    timings = []
    for _ in range(2):
        sync(device)
        started = time.perf_counter()
        train_classifier(model, first_images(data, steps * batch_size), 1, 3e-4, batch_size, 0)
        sync(device)
        timings.append(time.perf_counter() - started)
    return min(timings)


def throughput(cfg, data, device: str, n_models: int, steps: int, precisions: tuple[str, ...] = PRECISIONS) -> dict:
    n_out = N_CLASSES + cfg.n_aux_logits
    flops = flops_per_sample(cfg.hidden_width, n_out)
    peaks = {p: matmul_peak(compute_dtype(p), device) for p in dict.fromkeys(("fp32", *precisions))}
    result = {
        "n_models": n_models,
        "steps": steps,
        "batch_size": cfg.batch_size,
        "flops_per_sample": flops,
        "matmul_peak_gflops": peaks,
    }
    for precision in precisions:
        dtype = compute_dtype(precision)
        ids = list(range(n_models))
        model = init_reference(ids, cfg.hidden_width, cfg.n_aux_logits, cfg.seed, device, dtype)
        batched_s = train_steps(model, data, steps, cfg.batch_size, device)
        single_s = sum(train_steps(model.select([i]), data, steps, cfg.batch_size, device) for i in ids)
        samples = n_models * steps * cfg.batch_size
        result[precision] = {
            "batched_samples_per_s": samples / batched_s,
            "one_at_a_time_samples_per_s": samples / single_s,
            "batched_over_one_at_a_time": single_s / batched_s,
            "batched_gflops": samples * flops / batched_s / 1e9,
            "batched_fraction_of_fp32_peak": samples * flops / batched_s / 1e9 / peaks["fp32"],
        }
    if set(PRECISIONS) <= set(precisions):
        result["bf16_speedup_batched"] = (
            result["bf16"]["batched_samples_per_s"] / result["fp32"]["batched_samples_per_s"]
        )
    return result


def phase_flops(cfg, n_models: int) -> dict[str, float]:
    """Training FLOPs of the main run's two phases (`flops_per_sample`): the teachers on the MNIST images; the four
    student arms on the noise images, plus the teachers' logits on them, computed once (forward only)."""
    per_sample = flops_per_sample(cfg.hidden_width, N_CLASSES + cfg.n_aux_logits)
    forward = sum(2 * a * b for a, b in [(IMAGE_PIXELS, cfg.hidden_width), (cfg.hidden_width, cfg.hidden_width)])
    forward += 2 * cfg.hidden_width * (N_CLASSES + cfg.n_aux_logits)
    teacher = n_models * cfg.teacher_epochs * cfg.n_train_images * per_sample
    students = len(ARMS[2:]) * n_models * cfg.student_epochs * cfg.n_noise_images * per_sample
    return {"teacher": teacher, "students": students + n_models * cfg.n_noise_images * forward}


def timed_main_run(run_cfg, data, device: str, peak_gflops: float) -> tuple[dict, dict]:
    """One main run: its arms, and per phase the seconds (the run's own `report_timings`), GFLOP/s and share of
    the precision's matmul peak; the process's peak resident memory so far."""
    started = time.perf_counter()
    with collecting_timings():
        arms = arm_metrics(run_main(run_cfg, data, device))["arms"]
        timings = reported_timings()
    phases = {}
    for phase, flops in phase_flops(run_cfg, run_cfg.n_models).items():
        seconds = timings[f"main_{phase}_s"]
        phases[phase] = {
            "seconds": seconds,
            "tflop": flops / 1e12,
            "gflops": flops / seconds / 1e9,
            "fraction_of_peak": flops / seconds / 1e9 / peak_gflops,
        }
    timing = {
        "seconds": time.perf_counter() - started,
        "phases": phases,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    return arms, timing


def accuracy_check(cfg, data, device: str, n_models: int, peaks: dict[str, float]) -> dict:
    """Main run in both precisions (bf16 first, so that the peak memory after it is bf16's): timings per phase; are
    the bf16 means inside the fp32 95% intervals? (same inits, same batches)."""
    runs, timings = {}, {}
    for precision in ("bf16", "fp32"):
        run_cfg = cfg.model_copy(update={"precision": precision, "n_models": n_models})
        runs[precision], timings[precision] = timed_main_run(run_cfg, data, device, peaks[precision])
    arms = {}
    for arm in ARMS:
        fp32, bf16 = runs["fp32"][arm], runs["bf16"][arm]
        differences = [abs(a - b) for a, b in zip(fp32["values"], bf16["values"], strict=True)]
        arms[arm] = {
            "fp32_mean": fp32["mean"],
            "fp32_ci95": fp32["ci95"],
            "bf16_mean": bf16["mean"],
            "bf16_ci95": bf16["ci95"],
            "bf16_inside_fp32_ci": fp32["ci95"][0] <= bf16["mean"] <= fp32["ci95"][1],
            "max_abs_model_difference": max(differences),
        }
    speedup = timings["fp32"]["seconds"] / timings["bf16"]["seconds"]
    return {"n_models": n_models, "timings": timings, "speedup": speedup, "arms": arms}


def one_fresh_run(cfg, device: str, precision: str, n_models: int, peak_gflops: float) -> dict:
    """This process's main run from loading the data on, as the official script's body is timed."""
    started = time.perf_counter()
    run_cfg = cfg.model_copy(update={"precision": precision, "n_models": n_models})
    data = load_data(run_cfg, device)
    _, timing = timed_main_run(run_cfg, data, device, peak_gflops)
    return timing | {"seconds": time.perf_counter() - started}


def fresh_runs(args: argparse.Namespace, n_models: int, peaks: dict[str, float]) -> dict:
    """The main run in bf16 and in fp32, each in a new Python process (imports not counted, data loading counted),
    beside the official script's time in bench_mnist_official.json when it is there."""
    official_file = Path(args.official)
    official = json.loads(official_file.read_text()) if official_file.exists() else None
    result: dict = {"n_models": n_models, "official_seconds": official and official["seconds"]}
    for precision in [p for p in ("bf16", "fp32") if p in args.precisions]:
        command = [sys.executable, __file__, "--params", args.params, "--one-fresh-run", precision]
        command += ["--accuracy-models", str(n_models), "--peak-gflops", str(peaks[precision])]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        timing = json.loads(out.splitlines()[-1])
        if official:
            timing["official_over_ours"] = official["seconds"] / timing["seconds"]
        result[precision] = timing
    return result


def paper_timing(cfg, data, device: str) -> dict:
    """The paper config (100 models, fp32) end to end: teacher + four students, no sweeps."""
    run_cfg = cfg.model_copy(update={"precision": "fp32", "n_models": 100})
    started = time.perf_counter()
    main = run_main(run_cfg, data, device)
    metrics = arm_metrics(main)["arms"]
    return {"seconds": time.perf_counter() - started, "means": {arm: metrics[arm]["mean"] for arm in ARMS}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models", type=int, default=8, help="models in the throughput comparison")
    parser.add_argument("--steps", type=int, default=8, help="training steps timed per configuration")
    parser.add_argument("--accuracy", action="store_true", help="also run the main experiment in fp32 and bf16")
    parser.add_argument("--accuracy-models", type=int, default=None, help="models in the accuracy check")
    parser.add_argument("--fresh", action="store_true", help="also time the main run in new processes, both precisions")
    parser.add_argument("--one-fresh-run", choices=["bf16", "fp32"], help=argparse.SUPPRESS)
    parser.add_argument("--peak-gflops", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--paper", action="store_true", help="time the 100-model fp32 paper config")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--official", default=str(OFFICIAL), help="the official script's timing on this machine")
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        default=list(PRECISIONS),
        help="fp32 alone on a CPU that emulates bf16",
    )
    args = parser.parse_args(argv)

    cfg = validate_section("mnist", read_yaml(Path(args.params))["mnist"])
    device = configure_torch()
    if args.one_fresh_run:  # a child of --fresh: one line of JSON
        n_models = args.accuracy_models or cfg.n_models
        print(json.dumps(one_fresh_run(cfg, device, args.one_fresh_run, n_models, args.peak_gflops)))
        return 0
    data = load_data(cfg, device)
    report = {
        "device": device_description(),
        "threads": torch.get_num_threads(),
        "throughput": throughput(cfg, data, device, args.models, args.steps, tuple(args.precisions)),
    }
    print(json.dumps(report, indent=2), flush=True)
    if args.accuracy:
        peaks = report["throughput"]["matmul_peak_gflops"]
        report["accuracy"] = accuracy_check(cfg, data, device, args.accuracy_models or cfg.n_models, peaks)
        print(json.dumps(report["accuracy"], indent=2), flush=True)
    if args.fresh:
        peaks = report["throughput"]["matmul_peak_gflops"]
        report["fresh"] = fresh_runs(args, args.accuracy_models or cfg.n_models, peaks)
        print(json.dumps(report["fresh"], indent=2), flush=True)
    if args.paper:
        report["paper_config"] = paper_timing(cfg, data, device)
        print(json.dumps(report["paper_config"], indent=2), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
