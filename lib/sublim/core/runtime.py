"""Device, threads, seeds and the provenance record every stage writes."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

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


def configure_torch(threads: int | None = None) -> str:
    """Set torch's thread count and return the device name ('cuda' or 'cpu').

    On a 2-core machine shared with another process, one thread per process beats two
    (OpenMP spinning); `SUBLIM_THREADS` overrides the default of all cores.
    """
    import torch  # deferred here and below: the runner writes run records for stages that never load torch

    threads = threads or int(os.environ.get("SUBLIM_THREADS", "0")) or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return "cuda" if torch.cuda.is_available() else "cpu"


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device_description() -> str:
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


def run_record(stage: str, matrix: dict[str, Any], wall_s: float, threads: int | None = None) -> dict[str, Any]:
    """What the report lists per stage: code version, packages, machine and time taken."""
    return {
        "stage": stage,
        "matrix": matrix,
        "git": git_state(),
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "device": device_description(),
        "threads": threads or int(os.environ.get("SUBLIM_THREADS", "0")) or os.cpu_count(),
        "wall_s": round(wall_s, 1),
    }
