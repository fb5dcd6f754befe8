"""Device, threads, seeds, and the provenance record every stage run writes (with the timings the stage reports)."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sublim.core.io import write_json_atomic

TRACKED_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "tokenizers",
    "numpy",
    "pandas",
    "scipy",
    "seaborn",
    "papermill",
    "dvc",
    "pydantic",
)
T = TypeVar("T")
R = TypeVar("R")
REPOSITORY_MARKER = "dvc.yaml"  # the file that marks the repository root: every path in params.yaml is relative to it


def configure_torch(threads: int | None = None) -> str:
    """Set torch's thread count and return the device name ('cuda' or 'cpu').

    On a 2-core machine shared with another process, one thread per process beats two
    (OpenMP spinning); `SUBLIM_THREADS` overrides the default of all cores.
    """
    import torch  # deferred here and below: the runner writes run records for stages that never load torch

    threads = threads or int(os.environ.get("SUBLIM_THREADS", "0")) or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return torch_device()


def keep_freed_memory() -> bool:
    """Have glibc serve large blocks from the heap and keep what is freed (mallopt: no mmap, no trimming).

    By default every block over the mmap threshold is mapped and unmapped on each use, so a trainer whose
    activations are tens of MB takes fresh page faults every step: the MNIST stage's 8-model main run took 6.2 M
    minor faults and 88 s here, with this 0.3 M and 68 s (peak memory 1.2 -> 1.4 GiB). True when it applied (glibc)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to tune
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


# /proc/cpuinfo flags of CPUs whose matmuls run bf16 natively: x86 AVX512-BF16 or AMX-BF16, Arm's BF16 extension
NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}


def cpu_flags(cpuinfo: Path | str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (x86 'flags', Arm 'Features'); empty where the file does not exist (macOS)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def native_bf16(device: str, cpuinfo: Path | str = "/proc/cpuinfo") -> bool:
    """Whether bf16 matmuls run natively on `device`: a CUDA GPU that supports bf16, or a CPU with one of
    `NATIVE_BF16_FLAGS`. Without them PyTorch emulates bf16 on the CPU: a batched bf16 matmul of the MNIST stage's
    shape took 1.0 s against 26 ms in fp32 on an AMD EPYC with AVX2 only."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(cpu_flags(cpuinfo) & NATIVE_BF16_FLAGS)


def torch_device() -> str:
    """'cuda' when a GPU is visible, else 'cpu' (the thread count untouched)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def parallel_map(function: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`function` over `items`, in order, in `workers` processes of one torch thread each (on a 2-core CPU two
    1-thread processes beat one 2-thread process); in this process when workers is 1 or there is one item.
    `function` must be importable (a module-level function) and its items and results picklable."""
    with worker_pool(workers if len(items) > 1 else 1, preload=(function.__module__,)) as pool:
        return list(pool.map(function, items))


class InlineExecutor(Executor):
    """An executor that runs each call at once in this process (the `workers = 1` case of `worker_pool`)."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@contextmanager
def worker_pool(workers: int, preload: Sequence[str] = ()) -> Iterator[Executor]:
    """`workers` processes of one torch thread each, or this process when workers is 1: for stages whose jobs
    depend on one another (submit each job when what it needs is done). Jobs must be importable functions with
    picklable arguments and results; `preload` names the modules they come from (see `worker_context`)."""
    if workers <= 1:
        yield InlineExecutor()
        return
    context = worker_context(preload)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=one_thread_worker) as pool:
        yield pool


def one_thread_worker() -> None:
    """A worker's initializer: one torch thread, kept when its jobs call `configure_torch()` themselves (the LLM
    stage functions do; without `SUBLIM_THREADS` each worker went back to all cores, 4 threads on 2 cores)."""
    os.environ["SUBLIM_THREADS"] = "1"
    configure_torch(1)


def worker_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """Workers forked from a fresh server process that has imported `preload` (and never ran torch), where the
    platform has one, else spawned. A forked kernel would hand its OpenMP threads to the workers in a broken
    state; a spawned worker imports torch and transformers itself, ~7 s a process here, paid by each of 3 workers
    on 2 cores in every stage. The server starts with this process's first pool and serves every later one, with
    the modules it was first given (a job's module that it lacks is imported by the worker)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def repository_root(start: Path | str | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working folder) that holds `dvc.yaml`."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / REPOSITORY_MARKER).is_file():
            return folder
    raise FileNotFoundError(f"no {REPOSITORY_MARKER} in {start} or above: open the notebook inside the repository")


def work_from_repository_root() -> None:
    """Make the repository root the working folder, as a notebook's paths are relative to it.

    JupyterLab starts a kernel in the notebook's folder (an executed copy lies in results/...); papermill starts it
    at the root already, where this changes nothing."""
    os.chdir(repository_root())


def quiet_tqdm_widgets() -> None:
    """No "IProgress not found" warning in a notebook: `tqdm.auto`, which transformers and peft import, warns at import
    in a kernel without ipywidgets. The stages draw no progress bars (`sublim.lm.models.quiet_loading`), so the
    warning would only print red text into every executed notebook."""
    warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (papermill's or JupyterLab's), where figures show inline."""
    return "ipykernel" in sys.modules


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")  # present where an NVIDIA driver is loaded (Linux)


def device_description() -> str:
    """The GPU torch would use, else the CPU. Torch is imported only where a GPU can exist (an NVIDIA driver is
    loaded) or is already imported: the runner records every stage, and torch's import is ~2 s of this CPU."""
    if "torch" in sys.modules or NVIDIA_DRIVER_FILE.exists():
        try:
            import torch

            if torch.cuda.is_available():
                return f"cuda: {torch.cuda.get_device_name(0)}"
        except ImportError:
            pass
    return f"cpu: {_cpu_model()} ({os.cpu_count()} cores)"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def git_state(repo: Path | str = ".") -> dict[str, Any]:
    """Commit and dirty flag; results/ and DVC state are outputs, so they do not count as dirty."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results", ":!dvc.lock")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status)}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_record(
    stage: str,
    matrix: dict[str, Any],
    wall_s: float,
    threads: int | None = None,
    timings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the report lists per stage: code version, packages, machine, time taken and the stage's own timings."""
    return {
        "stage": stage,
        "matrix": matrix,
        "git": git_state(),
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "device": device_description(),
        "threads": threads or int(os.environ.get("SUBLIM_THREADS", "0")) or os.cpu_count(),
        "wall_s": round(wall_s, 1),
        "timings": timings or {},
    }


# ---- timings: a stage's wall times and speeds go to its run record, never into its outputs
TIMINGS_FILE_VARIABLE = "SUBLIM_TIMINGS_FILE"  # set by the runner while a stage runs; a notebook kernel inherits it


def report_timings(**timings: float | int | None) -> None:
    """Hand a stage's timings (seconds, tokens/s) to the runner, which adds them to the stage's run record.

    A time differs between two runs of the same params and data, so it never goes into a stage's outputs (a DVC
    output that changes on every rerun reruns everything downstream), nor into a notebook's printed output (the
    executed notebook is an output too). Outside the runner (a test, an interactive notebook) they are printed.
    Floats are rounded to 0.1; a later call adds to (or replaces keys of) an earlier one's.
    """
    rounded = {key: round(value, 1) if isinstance(value, float) else value for key, value in timings.items()}
    path = os.environ.get(TIMINGS_FILE_VARIABLE)
    if path:
        write_json_atomic(path, {**reported_timings(), **rounded})
    else:
        print("timings:", ", ".join(f"{key} {value}" for key, value in rounded.items()))


def reported_timings() -> dict[str, Any]:
    """What `report_timings` collected so far under `collecting_timings` ({} outside it or before any report)."""
    path = os.environ.get(TIMINGS_FILE_VARIABLE)
    text = Path(path).read_text() if path and Path(path).exists() else ""
    return json.loads(text) if text else {}


@contextmanager
def collecting_timings() -> Iterator[None]:
    """While open, `report_timings` (in this process or a notebook kernel it starts) writes to a fresh temporary file
    outside every results folder, which `reported_timings` reads; removed on exit."""
    descriptor, path = tempfile.mkstemp(prefix="sublim-timings-", suffix=".json")
    os.close(descriptor)
    previous = os.environ.get(TIMINGS_FILE_VARIABLE)
    os.environ[TIMINGS_FILE_VARIABLE] = path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(TIMINGS_FILE_VARIABLE, None)
        else:
            os.environ[TIMINGS_FILE_VARIABLE] = previous
        Path(path).unlink(missing_ok=True)
