"""The stage registry is the one source: dvc.yaml's deps, params and outputs agree with it and with the code,
notebooks' parameters cells hold what their stage is given, and imports point one way (core <- lm <- experiments
<- front door)."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from sublim import cells, wiring
from sublim.sections import load_params, schema_for, section_from_namespace
from sublim.stages import RECORDS, STAGES, Stage

LIB = Path(__file__).resolve().parents[1] / "lib" / "sublim"
FRONT_DOOR = {"run", "stages", "sections", "cells", "wiring", "readme", "profile", "plots"}
# package -> the packages it may import from (besides itself)
LAYERS = {
    "core": set(),
    "lm": {"core"},
    "judge": {"core", "lm"},
    "assets": {"core", "lm"},
    "llm": {"core", "lm", "judge", "assets"},
    "tinylm": {"core", "lm"},
    "mnist": {"core", "assets"},
    "theory": {"core", "lm", "assets"},
    "report": {"core"},
}


def test_dvc_yaml_agrees_with_the_registry_and_the_imports(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    problems = wiring.check()
    assert not problems, "run `python -m sublim.wiring` to update dvc.yaml:\n" + "\n".join(problems)


def test_the_wiring_check_sees_a_missing_module(repo_root, monkeypatch, tmp_path):
    monkeypatch.chdir(repo_root)
    text = (repo_root / "dvc.yaml").read_text().replace("      - lib/sublim/llm/distill.py\n", "", 1)
    (tmp_path / "dvc.yaml").write_text(text)
    assert any("lib/sublim/llm/distill.py" in p for p in wiring.check(tmp_path / "dvc.yaml"))


RECORD_ENTRY = "      - results/records/mnist.json:\n          persist: true\n          cache: false\n"


def test_the_wiring_wants_each_run_record_declared_uncached_and_adds_a_missing_one(repo_root, monkeypatch, tmp_path):
    monkeypatch.chdir(repo_root)
    text = (repo_root / "dvc.yaml").read_text()
    assert text.count(RECORD_ENTRY) == 1
    dvc_file = tmp_path / "dvc.yaml"
    dvc_file.write_text(text.replace(RECORD_ENTRY, RECORD_ENTRY.replace("          cache: false\n", "")))
    assert (
        "mnist: run record results/records/mnist.json must be `cache: false` (kept in git, never in a cached "
        "folder)" in wiring.check(dvc_file)
    )
    dvc_file.write_text(text.replace(RECORD_ENTRY, ""))
    assert "mnist: declared output results/records/mnist.json is not in dvc.yaml" in wiring.check(dvc_file)
    wiring.rewrite(dvc_file)
    assert wiring.check(dvc_file) == []


def test_no_run_record_lies_in_a_stage_folder_or_is_read_by_a_stage():
    """A record in a cached folder changes its hash on every rerun; one a stage reads reruns that stage."""
    folders = [wiring.dvc_path(s.results_dir, s.matrix) for s in STAGES.values()]
    for stage in (s for s in STAGES.values() if s.record):
        record = wiring.record_output(stage)
        assert record is not None and not any(record.startswith(folder + "/") for folder in folders), record
        assert not any(dep.startswith(RECORDS) for dep in wiring.expected_deps(stage)), stage.name


def test_imports_are_followed_through_modules_and_deferred_imports():
    modules = wiring.stage_modules(STAGES["llm_distill"])
    assert "lib/sublim/llm/distill.py" in modules  # the notebook's import
    assert "lib/sublim/lm/train.py" in modules and "lib/sublim/core/io.py" in modules  # through distill.py
    assert all("__init__" not in m for m in modules)


@pytest.mark.parametrize("stage", [s for s in STAGES.values() if s.notebook], ids=lambda s: s.name)
def test_parameters_cell_holds_what_the_stage_is_given(repo_root, monkeypatch, stage):
    monkeypatch.chdir(repo_root)
    assert cells.update(stage, "params.yaml", check=True) is None, "run `python -m sublim.cells`"
    cell = cells.parameters_cell(nbformat.read(stage.notebook, as_version=4))
    namespace: dict = {}
    exec(cell.source, namespace)  # literals only (checked by cells.declared_names)
    section_from_namespace(stage.section, namespace)  # the cell's values fit the schema


def test_a_stage_uses_only_keys_of_its_section():
    sections = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    for stage in STAGES.values():
        for key in stage.uses or ():
            head = key.split(".")[0]
            assert head in schema_for(stage.section).model_fields, f"{stage.name}: {key}"
            assert stage.section in sections


def module_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sublim."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("sublim.")}
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_point_one_way(package):
    for path in (LIB / package).rglob("*.py"):
        if path.name == "__main__.py":
            continue  # a command: the front door of its package
        upward = module_imports(path) - LAYERS[package] - {package}
        assert not upward, f"{path.relative_to(LIB)} imports {sorted(upward)}"


def test_package_inits_hold_no_code():
    for path in LIB.rglob("__init__.py"):
        body = ast.parse(path.read_text()).body
        assert all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), path


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(LIB)): n for p in LIB.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


@pytest.mark.parametrize("stage", [s for s in STAGES.values() if s.notebook], ids=lambda s: s.name)
def test_notebook_imports_do_not_shadow_its_parameters(repo_root, stage):
    """`section_from_namespace` reads the parameters from globals(): `from sublim.llm import distill` would replace
    the parameter `distill` (a params block) with a module."""
    notebook = nbformat.read(str(repo_root / stage.notebook), as_version=4)
    names = set(cells.declared_names(cells.parameters_cell(notebook).source))
    for cell in (c for c in notebook.cells if c.cell_type == "code"):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                bound = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
                assert not bound & names, f"{stage.notebook}: an import replaces the parameters {bound & names}"


def test_the_wiring_check_sees_a_dependency_that_holds_an_output():
    stage = Stage("overlap", "llm", "results/x/report", "notebooks/x.ipynb", inputs={"arms": "results/x/{arm}/numbers"})
    assert wiring.overlap_problems(stage) == [
        "overlap: dependency results/x holds its output results/x/report; move the inputs into a folder of their own"
    ]


@pytest.mark.parametrize(
    ("stage", "folder_input", "folder"),
    [
        ("mis_report", "numbers_dir", "results/llm/misalignment/arms"),
        ("llm_report", "xteacher_evaluate_dir", "results/llm/xteachers"),
    ],
)
def test_a_report_over_a_matrix_that_params_may_empty_has_its_folder_in_git(repo_root, stage, folder_input, folder):
    """With `llm.misalignment.teachers: []` (or `llm.cross_model.teachers: []`) no stage writes the folder, and DVC
    refuses a missing dependency: the folder is kept in git, so that the report runs (and says nothing ran)."""
    assert wiring.dvc_path(STAGES[stage].inputs[folder_input], STAGES[stage].matrix) == folder
    assert (repo_root / folder / ".gitkeep").exists()
