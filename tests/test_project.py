"""Project-level promises: pins agree, dvc.yaml runs registered stages, notebooks are committed clean."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib

import nbformat
import pytest
import yaml

from sublim.stages import STAGES


def pyproject_pins(repo_root) -> dict[str, str]:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(re.match(r"([A-Za-z0-9_.\-]+)\s*([=<>!~].*)", r).groups() for r in requirements)


def test_environment_yml_has_the_same_pins_as_pyproject(repo_root):
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = dict(line.split("==") for line in pip_block if "==" in line)
    pins = pyproject_pins(repo_root)
    assert set(conda_pins) == set(pins), "environment.yml and pyproject.toml list different packages"
    for name, spec in pins.items():
        if name == "torch":  # a range in pyproject (keeps a CUDA build); the Makefile's default in conda
            assert spec == ">=2.6" and conda_pins[name] == "2.13.0"
        else:
            assert spec == f"=={conda_pins[name]}", f"{name}: pyproject {spec} vs environment.yml =={conda_pins[name]}"


def test_the_gpu_extra_pins_vllm_exactly_and_environment_yml_names_it(repo_root):
    """The `gpu` extra stays out of environment.yml's pip block (a CUDA-only install) but is pinned the same."""
    extras = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (vllm,) = extras["gpu"]
    assert re.fullmatch(r"vllm==\d+\.\d+\.\d+", vllm)
    assert f"'.[gpu]'` ({vllm}," in (repo_root / "environment.yml").read_text().replace("\n# ", " ")


def dvc_stages(repo_root) -> dict:
    return yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]


def test_every_dvc_stage_runs_a_registered_stage_through_the_runner(repo_root):
    for name, stage in dvc_stages(repo_root).items():
        command = stage["do"]["cmd"] if "do" in stage else stage["cmd"]
        match = re.match(r"python -m sublim\.run (\w+)", command)
        assert match, f"dvc.yaml stage {name}: cmd must be `python -m sublim.run STAGE ...`, got {command!r}"
        assert match.group(1) in STAGES, f"dvc.yaml stage {name} runs unregistered stage {match.group(1)}"


def test_every_registered_stage_is_in_dvc_yaml(repo_root):
    commands = " ".join(str(s.get("do", s).get("cmd")) for s in dvc_stages(repo_root).values())
    for name in STAGES:
        assert re.search(rf"sublim\.run {name}\b", commands), f"stage {name} is registered but not in dvc.yaml"


NOTEBOOK_STAGES = [s for s in STAGES.values() if s.notebook]


@pytest.mark.parametrize("stage", NOTEBOOK_STAGES, ids=[s.name for s in NOTEBOOK_STAGES])
def test_notebook_is_committed_without_outputs(repo_root, stage):
    nb = nbformat.read(str(repo_root / stage.notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{stage.notebook}: clear outputs"
    assert nb.metadata.get("kernelspec", {}).get("name") == "sublim"


@pytest.mark.parametrize("stage", NOTEBOOK_STAGES, ids=[s.name for s in NOTEBOOK_STAGES])
def test_no_cell_shows_the_path_a_figure_was_saved_to(repo_root, stage):
    """save_figure returns the path: a cell ending in the bare call prints PosixPath(...) under its figure."""
    nb = nbformat.read(str(repo_root / stage.notebook), as_version=4)
    for cell in nb.cells:
        last = cell.source.rstrip().splitlines()[-1:] if cell.cell_type == "code" else []
        assert not (last and last[0].startswith("save_figure(") and not last[0].endswith(";")), stage.notebook


def test_make_lab_serves_the_repository_root_and_starts_as_root(repo_root):
    """notebooks/ and results/ both served; JupyterLab refuses root (a container) without --allow-root."""
    dry_run = ["make", "-n", "-o", ".venv/.setup-done", "-o", "setup", "lab"]
    command = subprocess.run(dry_run, cwd=repo_root, capture_output=True, text=True, check=True).stdout
    assert f'jupyter lab --ServerApp.root_dir="{repo_root}"' in command
    assert ("--allow-root" in command) == (os.getuid() == 0)
