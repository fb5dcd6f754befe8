"""sublim.core.runtime: stage timings (collected for the run record under the runner, printed outside it) and
the worker processes of parallel_map and worker_pool, glibc's allocator settings, native bf16."""

from __future__ import annotations

import math
import multiprocessing
import operator
import os
import platform
import subprocess
import sys
from concurrent.futures import as_completed

import pytest

from sublim.core.runtime import (
    TIMINGS_FILE_VARIABLE,
    collecting_timings,
    cpu_flags,
    keep_freed_memory,
    native_bf16,
    parallel_map,
    report_timings,
    reported_timings,
    worker_pool,
)


def test_timings_are_collected_while_open_and_printed_outside(monkeypatch, capsys):
    monkeypatch.delenv(TIMINGS_FILE_VARIABLE, raising=False)
    with collecting_timings():
        report_timings(a_s=1.04, rate_per_s=None)
        report_timings(a_s=2.0, b_s=3)
        assert reported_timings() == {"a_s": 2.0, "rate_per_s": None, "b_s": 3}
        path = os.environ[TIMINGS_FILE_VARIABLE]
    assert not os.path.exists(path) and TIMINGS_FILE_VARIABLE not in os.environ
    assert capsys.readouterr().out == ""
    report_timings(a_s=1.04)
    assert capsys.readouterr().out == "timings: a_s 1.0\n" and reported_timings() == {}


def test_parallel_map_keeps_the_order_in_worker_processes_and_in_process():
    items = [9.0, 1.0, 4.0, 16.0]
    assert parallel_map(math.sqrt, items, workers=2) == [3.0, 1.0, 2.0, 4.0]
    assert parallel_map(math.sqrt, items, workers=1) == [3.0, 1.0, 2.0, 4.0]
    assert parallel_map(os.getpid, [], workers=2) == []


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver (Windows)")
def test_workers_are_forked_from_one_server_not_from_this_process():
    """Workers fork from a server process that imported their module once, instead of each importing it."""
    parents = parallel_map(operator.call, [os.getppid] * 4, workers=2)
    assert len(set(parents)) == 1 and parents[0] != os.getpid()


def test_a_workers_one_thread_survives_its_jobs_own_configure_torch():
    """configure_torch() without a count reads SUBLIM_THREADS: the LLM stage functions call it inside the CPU search's
    workers, which then ran two threads each on two cores (28 tokens/s a worker against 187 with one)."""
    assert parallel_map(os.getenv, ["SUBLIM_THREADS"] * 2, workers=2) == ["1", "1"]


def test_worker_pool_runs_jobs_submitted_as_others_finish_in_processes_and_in_process():
    for workers in (2, 1):
        with worker_pool(workers) as pool:
            first = {x: pool.submit(math.sqrt, x) for x in (9.0, 16.0)}
            second = [pool.submit(math.sqrt, future.result()) for future in as_completed(first.values())]
            assert sorted(future.result() for future in second) == [math.sqrt(3.0), 2.0]


def test_glibc_keeps_freed_memory_where_it_is_glibc():
    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory() is expected


def test_the_device_is_described_without_importing_torch_where_no_gpu_driver_is_loaded(monkeypatch, tmp_path):
    """Every stage's run record describes the device: on a CPU-only machine that costs no torch import (~2 s)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sublim.core import runtime\n"
        f"runtime.NVIDIA_DRIVER_FILE = Path({str(tmp_path / 'absent')!r})\n"
        "assert runtime.device_description().startswith('cpu: ')\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


AVX2_ONLY = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx fma avx2\n"
AVX512_BF16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"


@pytest.mark.parametrize(("cpuinfo", "native"), [(AVX2_ONLY, False), (AVX512_BF16, True), (ARM_BF16, True)])
def test_native_bf16_reads_the_cpu_flags(tmp_path, cpuinfo, native):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert native_bf16("cpu", path) is native


def test_native_bf16_is_false_where_no_cpuinfo_exists(tmp_path):
    assert cpu_flags(tmp_path / "missing") == set()
    assert native_bf16("cpu", tmp_path / "missing") is False
