"""The LLM benchmark's bf16 switch (benchmarks/bench_llm.py --cpu-bf16-compare): it reaches the trainer, whose own
autocast turns bf16 off on a CPU, and leaves everything as it was afterwards."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_llm

import sublim.lm.train as train


def test_bf16_reaches_the_trainer_and_is_undone_afterwards():
    a, b = torch.ones(4, 4), torch.ones(4, 4)
    with bench_llm.cpu_bf16(True):
        assert (a @ b).dtype == torch.bfloat16
        with train.autocast("cpu"):
            assert (a @ b).dtype == torch.bfloat16
    with train.autocast("cpu"):
        assert (a @ b).dtype == torch.float32
    with bench_llm.cpu_bf16(False):
        assert (a @ b).dtype == torch.float32
