"""The fan-out of the LLM grid over GPUs (sublim.fanout): each cell to one worker, balanced; DVC's own stage names and
run records; the commands each worker runs; the lock merge; and, with real git and DVC on a toy pipeline of
persistent outputs, a worker's stage gathered into the main workspace and found up to date there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sublim import fanout
from sublim.fanout import Cell, FanoutError, gather, merge_locks, split, worker_commands
from sublim.profile import apply_profile

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def paper_params(tmp_path_factory) -> Path:
    params = tmp_path_factory.mktemp("paper") / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    apply_profile("paper", params, skip_checks=True, directory=REPO / "profiles")
    return params


@pytest.mark.parametrize("workers", [1, 3, 8, 100])
@pytest.mark.parametrize("phase", ["teachers", "students"])
def test_every_cell_goes_to_exactly_one_worker_and_the_load_is_balanced(paper_params, phase, workers):
    cells = fanout.cells(phase, paper_params)
    # the paper profile: control, 18 Qwen animals and the paper's 10 nano traits (3 of them Qwen's too), 3 seeds
    assert len(cells) == (26 if phase == "teachers" else 78)
    groups = split(cells, workers)
    assert len(groups) == workers and sorted(str(c) for g in groups for c in g) == sorted(map(str, cells))
    assert max(map(len, groups)) - min(map(len, groups)) <= 1
    targets = [t for g in groups for t in fanout.targets_of(phase, g)]
    assert len(targets) == len(set(targets))


def test_cells_name_dvcs_stages_and_run_records():
    """The names and record paths that dvc.lock holds for the LLM matrix stages."""
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    cell, student = Cell("owl"), Cell("owl", 1)
    assert fanout.stages_of("teachers", [cell]) == [f"{s}@owl" for s in fanout.PHASES["teachers"]]
    assert fanout.stages_of("students", [student]) == ["llm_distill@owl-1", "llm_evaluate@owl-1"]
    for phase, c in (("teachers", cell), ("students", student)):
        for stage, record in zip(fanout.stages_of(phase, [c]), fanout.records_of(phase, [c]), strict=True):
            assert stage in lock and record in [out["path"] for out in lock[stage]["outs"]]


def test_worker_commands_fetch_upstream_repro_and_push_to_a_remote():
    group = [Cell("cat", 1), Cell("owl", 2)]
    local = worker_commands("students", group)
    assert local == [
        ["dvc", "checkout", "--with-deps", "--allow-missing", "llm_evaluate@cat-1", "llm_evaluate@owl-2"],
        ["dvc", "repro", "llm_evaluate@cat-1", "llm_evaluate@owl-2"],
    ]
    remote = worker_commands("students", group, remote="storage")
    assert remote[0][:4] == ["dvc", "pull", "-r", "storage"] and remote[1] == local[1]
    assert remote[2] == ["dvc", "push", "-r", "storage", *fanout.stages_of("students", group)]


def test_the_dry_run_pins_each_worker_to_one_gpu(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6")
    assert fanout.main(["local", "--gpus", "2", "--dry-run", "--dir", str(tmp_path / "fan")]) == 0
    out = capsys.readouterr().out
    assert "CUDA_VISIBLE_DEVICES=4 python -m sublim.fanout worker --phase teachers --worker 0 --workers 2" in out
    assert "CUDA_VISIBLE_DEVICES=5 python -m sublim.fanout worker --phase students --worker 1 --workers 2" in out
    assert out.index("dvc repro validate_params assets_llm") < out.index("--phase teachers")
    assert out.index("gather") < out.index("--phase students") and not (tmp_path / "fan").exists()
    with pytest.raises(FanoutError, match="--gpus 4 but CUDA_VISIBLE_DEVICES names 3"):
        fanout.visible_devices(4)


LOCK = """schema: '2.0'
stages:
  validate_params:
    cmd: python -m sublim.run validate_params
    outs:
    - path: results/params/valid.txt
      hash: md5
      md5: aaa
  llm_teacher@owl:
    cmd: python -m sublim.run llm_teacher trait=owl
    outs:
    - path: results/llm/runs/owl/teacher
      hash: md5
      md5: old.dir
"""


def test_merging_takes_the_workers_entries_and_refuses_other_upstream_or_a_missing_entry(tmp_path):
    main, worker = tmp_path / "main.lock", tmp_path / "worker.lock"
    main.write_text(LOCK)
    worker.write_text(LOCK.replace("old.dir", "new.dir") + "  llm_teacher@cat:\n    cmd: x\n")
    merge_locks(main, worker, ["llm_teacher@owl", "llm_teacher@cat"])
    merged = yaml.safe_load(main.read_text())["stages"]
    assert merged["llm_teacher@owl"]["outs"][0]["md5"] == "new.dir" and merged["llm_teacher@cat"] == {"cmd": "x"}
    with pytest.raises(FanoutError, match="no entry for \\['llm_teacher@dog'\\]"):
        merge_locks(main, worker, ["llm_teacher@dog"])
    worker.write_text(LOCK.replace("md5: aaa", "md5: bbb"))
    with pytest.raises(FanoutError, match="validate_params differs"):
        merge_locks(main, worker, ["llm_teacher@owl"])


def test_merging_keeps_dvcs_layout_byte_for_byte(tmp_path):
    lock = tmp_path / "dvc.lock"
    shutil.copy(REPO / "dvc.lock", lock)
    names = [name for name in yaml.safe_load(lock.read_text())["stages"] if name.startswith("llm_")]
    merge_locks(lock, REPO / "dvc.lock", names)
    assert lock.read_text() == (REPO / "dvc.lock").read_text()


def test_the_cluster_files_run_one_worker_per_node_or_array_task():
    sky = yaml.safe_load((REPO / "scripts" / "fanout_skypilot.yaml").read_text())
    assert sky["num_nodes"] >= 2 and sky["resources"]["accelerators"].endswith(":1")
    assert '--worker "$SKYPILOT_NODE_RANK"' in sky["run"] and '--remote "$DVC_REMOTE"' in sky["run"]
    assert "'.[gpu]'" in sky["setup"] and sky["file_mounts"]["/fanout"]["mode"] == "MOUNT"
    slurm = REPO / "scripts" / "fanout_slurm.sh"
    subprocess.run(["bash", "-n", str(slurm)], check=True)
    text = slurm.read_text()
    assert "#SBATCH --gres=gpu:1" in text and '--worker "$SLURM_ARRAY_TASK_ID"' in text


TOY = """stages:
  make:
    matrix:
      name: ${items}
    cmd: python make.py ${item.name}
    deps:
    - make.py
    params:
    - scale
    outs:
    - rec/${item.name}.json:
        persist: true
        cache: false
    - out/${item.name}.txt:
        persist: true
"""
MAKE = """import pathlib, sys, yaml
item, scale = sys.argv[1], yaml.safe_load(open("params.yaml"))["scale"]
for folder in ("out", "rec"):
    pathlib.Path(folder).mkdir(exist_ok=True)
pathlib.Path(f"out/{item}.txt").write_text(str(scale))
pathlib.Path(f"rec/{item}.json").write_text("{}")
"""


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.slow
def test_a_workers_persistent_outputs_are_gathered_through_dvc(tmp_path, monkeypatch):
    """Real git and DVC: the worker's worktree shares the cache; gather merges its lock entry, copies the run record,
    checks the output out here and `dvc status` finds the stage up to date; after a params change it does not."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    main = tmp_path / "main"
    main.mkdir()
    git("init", "-q", cwd=main)
    git("config", "user.email", "t@t", cwd=main)
    git("config", "user.name", "t", cwd=main)
    subprocess.run(["dvc", "init", "-q"], cwd=main, check=True)
    (main / "dvc.yaml").write_text(TOY)
    (main / "make.py").write_text(MAKE)
    (main / "params.yaml").write_text("items: [a, b]\nscale: 3\n")
    git("add", "-A", cwd=main)
    git("commit", "-qm", "toy", cwd=main)
    (main / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    worker = tmp_path / "fan" / "worker0"
    fanout.prepare_workspace(main, worker)
    subprocess.run(["dvc", "repro", "make@a"], cwd=worker, check=True, capture_output=True)
    manifest = {"phase": "teachers", "cells": ["a"], "stages": ["make@a"], "records": ["rec/a.json"]}
    (worker / fanout.MANIFEST).write_text(json.dumps(manifest))
    assert gather([worker], main) == 0
    assert (main / "out" / "a.txt").read_text() == "3" and (main / "rec" / "a.json").exists()
    assert "make@a" in yaml.safe_load((main / "dvc.lock").read_text())["stages"]
    (main / "params.yaml").write_text("items: [a, b]\nscale: 4\n")
    assert gather([worker], main) == 1  # made under other params: not passed as up to date
