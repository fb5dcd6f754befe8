"""Fan the LLM grid out over GPUs: each trait's teacher cell, then each (trait, seed) student cell, is independent.

    python -m sublim.fanout plan --workers 8               which cells each worker runs, phase by phase
    python -m sublim.fanout local --gpus 8 [--dry-run]     one machine: a git worktree per GPU, one shared DVC cache
    python -m sublim.fanout prepare --workers N [--dir D]  the workers' worktrees (before a Slurm array)
    python -m sublim.fanout worker --phase P --worker I --workers N [--dir D] [--remote R] [--export E]
                                                           one worker: a Slurm array task, a SkyPilot node
    python -m sublim.fanout gather [--remote R] DIR...     the workers' cells into this workspace

Phases: `teachers` (per trait: llm_teacher, llm_generate, llm_filter, llm_evaluate_teacher), then `students` (per
trait and seed: llm_distill, llm_evaluate), which read their trait's filtered numbers and so start once the teachers
are gathered. Cells go round-robin to the workers: each cell once, counts differing by at most one.

How results come back. DVC's run cache cannot do it here: every output is `persist: true` (and each run record
`cache: false`), and DVC neither saves nor restores run-cache entries of such stages (dvc/stage/cache.py,
`_can_hash`). So a worker runs `dvc repro` on its cells in a workspace of its own (a git worktree at this commit, or
a clone, holding this workspace's params.yaml and dvc.lock), which puts the outputs in a DVC cache shared with this
workspace (one machine, a cluster's shared filesystem) or pushes them to a DVC remote (`--remote`); it writes
`fanout.json` (its phase and stages) beside its dvc.lock. `gather` copies those stages' entries from each worker's
dvc.lock into this one, copies their run records, then runs `dvc checkout` (or `dvc pull`) and `dvc status` on them:
DVC hashes the deps here again, so an entry made under other code, params or data shows as changed rather than
passing. The shared upstream stages (validate_params, assets_llm) run here first; a worker that reran them
differently is refused. Then `dvc repro` here runs what is left: llm_report, report and the other experiments.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from sublim.core.io import write_text_atomic
from sublim.core.params import DEFAULT_PARAMS_FILE
from sublim.sections import load_section
from sublim.stages import STAGES, fill

PHASES: dict[str, tuple[str, ...]] = {
    "teachers": ("llm_teacher", "llm_generate", "llm_filter", "llm_evaluate_teacher"),
    "students": ("llm_distill", "llm_evaluate"),
}
ENDS = {"teachers": ("llm_filter", "llm_evaluate_teacher"), "students": ("llm_evaluate",)}  # repro pulls in the rest
UPSTREAM = ("validate_params", "assets_llm")  # run once, here, before any worker
LOCK, MANIFEST = "dvc.lock", "fanout.json"
STATE = (str(DEFAULT_PARAMS_FILE), LOCK)  # what a worker copies from this workspace: the params, what is done
CACHE_TYPES = "reflink,hardlink,symlink,copy"  # a worker links the shared cache's files (the base model) if it can


class FanoutError(RuntimeError):
    """A worker or workspace that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Cell:
    trait: str
    seed: int | None = None

    def values(self) -> dict[str, Any]:
        return {"trait": self.trait} | ({} if self.seed is None else {"seed": self.seed})

    def stage(self, name: str) -> str:
        """The DVC name of a matrix stage for this cell, e.g. llm_distill@owl-1."""
        values = self.values()
        return f"{name}@" + "-".join(str(values[key]) for key in STAGES[name].matrix)

    def __str__(self) -> str:
        return self.trait if self.seed is None else f"{self.trait}/seed{self.seed}"


def cells(phase: str, params: Path | str = DEFAULT_PARAMS_FILE) -> list[Cell]:
    llm = load_section("llm", params)
    if phase == "teachers":
        return [Cell(trait) for trait in llm.traits]
    return [Cell(trait, seed) for trait in llm.traits for seed in llm.seeds]


def split(items: list[Cell], workers: int) -> list[list[Cell]]:
    """Round-robin: each item once, the workers' counts differing by at most one."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return [items[i::workers] for i in range(workers)]


def stages_of(phase: str, group: list[Cell]) -> list[str]:
    return [cell.stage(name) for cell in group for name in PHASES[phase]]


def targets_of(phase: str, group: list[Cell]) -> list[str]:
    return [cell.stage(name) for cell in group for name in ENDS[phase]]


def records_of(phase: str, group: list[Cell]) -> list[str]:
    return [fill(STAGES[name].record_file(), cell.values()) for cell in group for name in PHASES[phase]]


def worker_commands(phase: str, group: list[Cell], remote: str | None = None) -> list[list[str]]:
    """What a worker runs in its workspace: its cells' upstream outputs there, `dvc repro`, then a push if remote."""
    targets = targets_of(phase, group)
    fetch = ["pull", "-r", remote] if remote else ["checkout"]
    commands = [["dvc", *fetch, "--with-deps", "--allow-missing", *targets], ["dvc", "repro", *targets]]
    return commands + ([["dvc", "push", "-r", remote, *stages_of(phase, group)]] if remote else [])


def lock_yaml() -> YAML:
    """ruamel set to DVC's own dvc.lock layout (a load and dump gives the file back byte for byte)."""
    yaml = YAML()
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def merge_locks(main_lock: Path, worker_lock: Path, stages: list[str]) -> None:
    """Copy `stages`' entries from a worker's dvc.lock into this one (refused when the worker's upstream entries
    differ from ours, or an entry is missing: the worker did not finish)."""
    yaml = lock_yaml()
    main = yaml.load(main_lock.read_text()) if main_lock.exists() else {"schema": "2.0", "stages": {}}
    worker = yaml.load(worker_lock.read_text())["stages"]
    for name in UPSTREAM:
        if name in worker and worker[name] != main["stages"].get(name):
            raise FanoutError(f"{worker_lock}: {name} differs from this workspace's: the worker ran it itself")
    missing = [name for name in stages if name not in worker]
    if missing:
        raise FanoutError(f"{worker_lock} has no entry for {missing}: the worker did not finish (see its log)")
    for name in stages:
        main["stages"][name] = worker[name]
    out = io.StringIO()
    yaml.dump(main, out)
    write_text_atomic(main_lock, out.getvalue())


def run(command: list[str], cwd: Path, dry_run: bool = False, env: dict[str, str] | None = None) -> None:
    prefix = "".join(f"{k}={v} " for k, v in (env or {}).items())
    print(f"[{cwd}] {prefix}{' '.join(command)}", flush=True)
    if not dry_run:
        subprocess.run(command, cwd=cwd, check=True, env={**os.environ, **(env or {})})


def tracked_changes(root: Path) -> list[str]:
    """Tracked files changed here that a worker at HEAD would not see (params.yaml and DVC's files travel)."""
    lines = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    paths = [line[3:] for line in lines]
    return [p for p in paths if p not in STATE and not p.startswith("results/")]


def prepare_workspace(main: Path, folder: Path, dry_run: bool = False) -> None:
    """A git worktree of this commit at `folder` (made once, moved to HEAD after), using this workspace's DVC cache,
    with this workspace's params.yaml and dvc.lock."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=main, capture_output=True, text=True, check=True).stdout
    if not (folder / ".git").exists():
        run(["git", "worktree", "add", "--detach", str(folder), head.strip()], main, dry_run)
    else:
        run(["git", "checkout", "--detach", "--force", head.strip()], folder, dry_run)
    run(["dvc", "config", "--local", "cache.dir", str((main / ".dvc" / "cache").resolve())], folder, dry_run)
    run(["dvc", "config", "--local", "cache.type", CACHE_TYPES], folder, dry_run)
    for name in STATE:
        print(f"copy {main / name} -> {folder / name}")
        if not dry_run:
            shutil.copyfile(main / name, folder / name)


def run_worker(phase: str, group: list[Cell], folder: Path, remote: str | None = None, export: Path | None = None):
    """One worker's cells in `folder` (prepared): fetch, repro, push; fanout.json; a copy for `gather` in `export`.
    The stages import the workspace's own lib/ (the code DVC hashes there), not an installed copy."""
    lib = str((folder / "lib").resolve())
    env = {"PYTHONPATH": os.pathsep.join([lib, *filter(None, [os.environ.get("PYTHONPATH")])])}
    for command in worker_commands(phase, group, remote):
        run(command, folder, env=env)
    manifest = manifest_of(phase, group)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if export is not None:
        for name in [MANIFEST, LOCK, *manifest["records"]]:
            (export / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, export / name)


def manifest_of(phase: str, group: list[Cell]) -> dict[str, Any]:
    """fanout.json: what a worker ran, for `gather` (its stages' lock entries and run records)."""
    cells_run = [str(cell) for cell in group]
    return {"phase": phase, "cells": cells_run, "stages": stages_of(phase, group), "records": records_of(phase, group)}


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        raise FanoutError(f"{path} is missing: that worker did not finish (see its log)")
    return json.loads(path.read_text())


def gather(
    folders: list[Path],
    main: Path,
    remote: str | None = None,
    dry_run: bool = False,
    manifests: list[dict[str, Any]] | None = None,
) -> int:
    """Each worker's stages into this workspace (module docstring); 0 when `dvc status` finds them up to date.
    `manifests`: what the folders' fanout.json say (read from them when not given)."""
    stages: list[str] = []
    for folder, manifest in zip(folders, manifests or [read_manifest(f) for f in folders], strict=True):
        print(f"gather {folder}: {manifest['phase']} {', '.join(manifest['cells'])}")
        if not dry_run:
            merge_locks(main / LOCK, folder / LOCK, manifest["stages"])
            for record in manifest["records"]:
                (main / record).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / record, main / record)
        stages += manifest["stages"]
    if not stages:
        return 0
    run(["dvc", "pull", "-r", remote, *stages] if remote else ["dvc", "checkout", *stages], main, dry_run)
    if dry_run:
        return 0
    status = subprocess.run(["dvc", "status", *stages], cwd=main, capture_output=True, text=True)
    print(status.stdout + status.stderr, end="")
    if status.returncode != 0 or "up to date" not in status.stdout:
        print("gather: some stages are not up to date here (above): rerun them with `dvc repro`", file=sys.stderr)
        return 1
    return 0


def local(gpus: int, phases: list[str], folder: Path, dry_run: bool = False) -> int:
    """Every phase on one machine's GPUs: worker i in `folder`/worker<i> on the i-th visible GPU; gathered after each
    phase; a failed worker stops the run (its log says why)."""
    main, folder = Path.cwd(), folder.resolve()
    changed = tracked_changes(main)
    if changed:
        message = f"commit these first, workers run HEAD's code: {changed}"
        if not dry_run:
            raise FanoutError(message)
        print(f"(dry run) {message}")
    devices = visible_devices(gpus)
    run(["dvc", "repro", *UPSTREAM], main, dry_run)
    for phase in phases:
        workers: list[tuple[str, Path, subprocess.Popen | None]] = []
        planned = []
        for index, group in enumerate(split(cells(phase), gpus)):
            if group:
                workspace = folder / f"worker{index}"
                prepare_workspace(main, workspace, dry_run)
                process = start_worker(phase, index, gpus, workspace, devices[index], folder, dry_run)
                workers.append((devices[index], workspace, process))
                planned.append(manifest_of(phase, group))
                for command in worker_commands(phase, group) if dry_run else []:
                    print(f"    [{workspace}] {' '.join(command)}")
        failed = [device for device, _, process in workers if process is not None and process.wait() != 0]
        if failed:
            print(f"fanout: {phase} failed on GPUs {failed}; see {folder}/{phase}-worker*.log", file=sys.stderr)
            return 1
        if gather([w for _, w, _ in workers], main, dry_run=dry_run, manifests=planned if dry_run else None):
            return 1
    print("fanout: done; `dvc repro` here runs what is left (llm_report, report, the other experiments)")
    return 0


def visible_devices(gpus: int) -> list[str]:
    """The first `gpus` devices this process may use (CUDA_VISIBLE_DEVICES when set, else 0..gpus-1)."""
    listed = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    devices = listed or [str(i) for i in range(gpus)]
    if len(devices) < gpus:
        raise FanoutError(f"--gpus {gpus} but CUDA_VISIBLE_DEVICES names {len(devices)}: {devices}")
    return devices[:gpus]


def start_worker(
    phase: str, index: int, workers: int, workspace: Path, device: str, folder: Path, dry_run: bool
) -> subprocess.Popen | None:
    """`python -m sublim.fanout worker` in the background, pinned to one GPU, output in folder/<phase>-worker<i>.log."""
    command = [sys.executable, "-m", "sublim.fanout", "worker", "--phase", phase, "--worker", str(index)]
    command += ["--workers", str(workers), "--dir", str(workspace)]
    log = folder / f"{phase}-worker{index}.log"
    print(f"[{workspace}] CUDA_VISIBLE_DEVICES={device} python {' '.join(command[1:])} > {log}", flush=True)
    if dry_run:
        return None
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": device}
    with log.open("w") as handle:
        return subprocess.Popen(command, cwd=workspace, env=env, stdout=handle, stderr=subprocess.STDOUT)


def plan(workers: int) -> str:
    lines = []
    for phase in PHASES:
        lines.append(f"{phase}:")
        for i, group in enumerate(split(cells(phase), workers)):
            lines.append(f"  worker {i}: {', '.join(map(str, group)) or '(nothing)'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sublim.fanout", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan").add_argument("--workers", type=int, required=True)
    local_cmd = sub.add_parser("local", help="every phase on this machine's GPUs")
    local_cmd.add_argument("--gpus", type=int, required=True)
    local_cmd.add_argument("--phases", nargs="+", choices=list(PHASES), default=list(PHASES))
    local_cmd.add_argument("--dir", type=Path, default=Path("..") / "sublim-fanout", help="the workers' worktrees")
    local_cmd.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    prepare = sub.add_parser("prepare", help="the workers' worktrees, holding this workspace's params and dvc.lock")
    prepare.add_argument("--workers", type=int, required=True)
    prepare.add_argument("--dir", type=Path, default=Path("..") / "sublim-fanout")
    worker = sub.add_parser("worker", help="one worker's cells (a Slurm array task, a SkyPilot node)")
    worker.add_argument("--phase", choices=list(PHASES), required=True)
    worker.add_argument("--worker", type=int, required=True)
    worker.add_argument("--workers", type=int, required=True)
    worker.add_argument("--dir", type=Path, default=Path("."), help="the worker's workspace (prepared)")
    worker.add_argument("--remote", help="DVC remote to pull upstream outputs from and push the cells' outputs to")
    worker.add_argument("--export", type=Path, help="copy dvc.lock, fanout.json and the run records here")
    gather_cmd = sub.add_parser("gather", help="workers' results into this workspace")
    gather_cmd.add_argument("folders", type=Path, nargs="+", help="worker workspaces or --export folders")
    gather_cmd.add_argument("--remote", help="DVC remote the workers pushed to (else: a shared cache)")
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            print(plan(args.workers))
            return 0
        if args.command == "local":
            if not args.dry_run:
                args.dir.mkdir(parents=True, exist_ok=True)
            return local(args.gpus, args.phases, args.dir, args.dry_run)
        if args.command == "prepare":
            for index in range(args.workers):
                prepare_workspace(Path.cwd(), args.dir.resolve() / f"worker{index}")
            return 0
        if args.command == "worker":
            group = split(cells(args.phase, args.dir / DEFAULT_PARAMS_FILE), args.workers)[args.worker]
            run_worker(args.phase, group, args.dir, args.remote, args.export)
            return 0
        return gather(args.folders, Path.cwd(), args.remote)
    except (FanoutError, subprocess.CalledProcessError) as err:
        print(f"sublim.fanout: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
