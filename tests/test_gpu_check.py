"""The GPU check's CPU-testable parts (benchmarks/gpu_check.py): the parameter counts, the bandwidth roofline and MFU
arithmetic, the GPU names, the targets, the stop on a machine without CUDA, and a dry run of every section on tiny
shapes (which measures nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_check  # noqa: E402
from gpu_check import (  # noqa: E402
    QWEN25_7B,
    TINY,
    decode_step_bytes,
    judge,
    param_counts,
    roofline_tokens_per_s,
    spec_of,
    training_flops_per_token,
)


def meta_model_counts(shape: dict) -> tuple[int, int]:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    with torch.device("meta"):
        model = Qwen2ForCausalLM(Qwen2Config(**shape))
    total = sum(p.numel() for p in model.parameters())
    return total, model.model.embed_tokens.weight.numel()


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("shape", [QWEN25_7B, TINY], ids=["qwen2.5-7b", "tiny"])
def test_parameter_counts_are_qwen2s(shape, tied):
    shape = shape | {"tie_word_embeddings": tied}
    total, embedding = meta_model_counts(shape)
    counts = param_counts(shape)
    assert (counts["total"], counts["embedding"]) == (total, embedding)
    if shape["hidden_size"] == 3584 and not tied:
        assert counts["total"] == 7_615_616_512  # Qwen2.5-7B-Instruct's 7.62B


def test_the_decode_roofline_counts_weights_once_per_step_and_each_sequences_kv_cache():
    counts = param_counts(QWEN25_7B)
    kv_per_token = 2 * 28 * 4 * 128 * 2  # K and V, layers, KV heads, head dim, bf16 bytes
    step = decode_step_bytes(QWEN25_7B, batch=64, context=192)
    assert step == (counts["total"] - counts["embedding"]) * 2 + 64 * 192 * kv_per_token
    roofline = roofline_tokens_per_s(QWEN25_7B, batch=64, prompt=128, new=128, bandwidth_tbs=3.35)
    assert roofline == pytest.approx(64 * 3.35e12 / step)
    assert 14_000 < roofline < 15_000  # about 226 steps a second on an H100's 3.35 TB/s
    assert roofline_tokens_per_s(QWEN25_7B, 256, 128, 128, 3.35) > 3 * roofline  # the weights are read once a step


def test_training_flops_count_lora_as_two_forward_passes_and_full_fine_tuning_as_three():
    seq = 512
    lora, full = (training_flops_per_token(QWEN25_7B, seq, lora=flag) for flag in (True, False))
    assert lora / full == pytest.approx(2 / 3)
    forward = 2 * param_counts(QWEN25_7B)["matmul"] + 2 * 28 * 3584 * seq
    assert lora == 2 * forward and full == pytest.approx(6 * 7.0e9, rel=0.1)  # ~6N, N without the embedding


@pytest.mark.parametrize(
    ("name", "tflops", "tbs"),
    [
        ("NVIDIA H100 80GB HBM3", 989.0, 3.35),
        ("NVIDIA H100 PCIe", 756.0, 2.0),
        ("NVIDIA H100 NVL", 835.0, 3.9),
        ("NVIDIA H200", 989.0, 4.8),
        ("NVIDIA A100-SXM4-80GB", 312.0, 2.039),
    ],
)
def test_gpu_specs_by_name(name, tflops, tbs):
    assert spec_of(name) == {"bf16_tflops": tflops, "bandwidth_tbs": tbs}


def test_targets_are_judged_only_on_measured_sections():
    sections = {
        "mnist_paper": {"fp32": {"seconds": 24.0}},
        "decode_vllm": {"batches": {"64": {"fraction_of_roofline": 0.42}, "256": {"fraction_of_roofline": 0.61}}},
        "lora_training": {"mfu_lora": 0.35},
    }
    judged = judge(sections)
    assert [judged[k]["met"] for k in ("mnist_paper_fp32_s", "vllm_fraction_of_roofline", "lora_mfu")] == [
        True,
        True,
        False,
    ]
    assert judged["vllm_fraction_of_roofline"]["value"] == 0.61
    assert all(v["met"] is None for v in judge({"decode_vllm": {"skipped": "no vllm"}}).values())
    assert all(v["met"] is None for v in judge(sections, dry_run=True).values())


def test_without_a_gpu_the_check_stops_at_once_with_one_message():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True)
    assert done.returncode == 2 and "no CUDA GPU here" in done.stderr and "--dry-run" in done.stderr
    assert gpu_check.main(["--section", "peaks"]) == 2


@pytest.mark.slow
def test_a_dry_run_runs_every_section_on_tiny_shapes(tmp_path):
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--dry-run", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dry_run"] is True and list(result["sections"]) == list(gpu_check.SECTIONS)
    sections = result["sections"]
    assert sections["decode_transformers"]["batches"]["4"]["decode_tokens_per_s"] > 0
    assert sections["lora_training"]["timed_steps"] == 2 and sections["mnist_paper"]["n_models"] == 3
    assert set(sections["mnist_paper"]["fp32"]["means"]) >= {"teacher", "student_aux", "xmodel_aux"}
    assert sections["smoke"]["kept"] == {"control": 24, "cat": 24} and "llm_report" in sections["smoke"]["seconds"]
    assert "skipped" in sections["decode_vllm"] and all(t["met"] is None for t in result["targets"].values())


def test_merging_sections_keeps_errors_and_their_order(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "smoke.json").write_text(json.dumps({"error": "stopped at its 40 s limit"}))
    (parts / "peaks.json").write_text(json.dumps({"device": "NVIDIA H200"}))
    out = tmp_path / "merged.json"
    assert gpu_check.main(["--merge", str(parts), "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert list(merged["sections"]) == ["peaks", "smoke"] and merged["dry_run"] is False
    assert merged["sections"]["smoke"]["error"].startswith("stopped")
