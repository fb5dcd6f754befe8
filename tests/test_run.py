"""The stage runner: params checked first, notebook parameters checked both ways, failures name the cell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import nbformat
import pytest
import yaml

from sublim import run
from sublim import sections as params
from sublim.assets.files import AssetError
from sublim.core.io import lock_holder, runner_lock
from sublim.core.params import ParamsError
from sublim.core.runtime import TIMINGS_FILE_VARIABLE
from sublim.run import StageError, run_stage
from sublim.stages import Stage

GOOD = {"demo": {"n_items": 3, "mode": "fast", "inner": {"rate": 0.5}, "seeds": [0, 1], "fail": False}}
PARAMETERS = (
    'n_items = 3\nmode = "fast"\ninner = {"rate": 0.5}\nseeds = [0, 1]\nfail = False\nseed = 0\nresults_dir = "x"'
)
BODY = """
from pathlib import Path
if fail:
    raise ValueError("asked to fail")
Path(results_dir, "items.json").write_text(str(list(range(n_items * (seed + 1)))))
"""


def make_notebook(path, parameters: str = PARAMETERS) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "sublim", "display_name": "sublim (.venv)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Demo"),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(BODY),
    ]
    nbformat.write(nb, str(path))


@pytest.fixture
def demo(monkeypatch, in_tmp_repo):
    monkeypatch.setattr(params, "SECTION_SCHEMAS", {"demo": "fixtures.demo_schema:DemoParams"})
    stage = Stage("demo", "demo", "results/demo/{seed}", notebook="demo.ipynb", matrix={"seed": "seeds"})
    monkeypatch.setattr(run, "STAGES", {"demo": stage})
    (in_tmp_repo / "params.yaml").write_text(yaml.safe_dump(GOOD))
    make_notebook(in_tmp_repo / "demo.ipynb")
    return in_tmp_repo


def set_params(root, **changes) -> None:
    data = {"demo": {**GOOD["demo"], **changes}}
    (root / "params.yaml").write_text(yaml.safe_dump(data))


@pytest.mark.slow
def test_runs_the_notebook_and_writes_executed_copy_and_run_record(demo):
    results = run_stage("demo", {"seed": 1})
    assert results == demo / "results/demo/1" or results.as_posix() == "results/demo/1"
    assert json.loads((demo / "results/demo/1/items.json").read_text()) == list(range(6))
    executed = nbformat.read(str(demo / "results/demo/1/demo.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    # the record is outside the results folder (a DVC output): a rerun with the same data keeps its hash
    assert sorted(p.name for p in (demo / "results/demo/1").iterdir()) == ["demo.ipynb", "items.json"]
    record = json.loads((demo / "results/records/demo-1.json").read_text())
    assert record["stage"] == "demo" and record["matrix"] == {"seed": 1} and record["wall_s"] >= 0
    assert {"torch", "papermill"} <= set(record["packages"]) and "git" in record


@pytest.mark.slow
def test_a_rerun_writes_the_same_executed_notebook_bytes(demo):
    """Papermill's start and end times and durations are removed and the cells it inserts get fixed ids (the
    executed copy is a cached DVC output); the parameters it records and each cell's status stay."""
    executed = demo / "results/demo/1/demo.ipynb"
    run_stage("demo", {"seed": 1})
    first = executed.read_bytes()
    run_stage("demo", {"seed": 1})
    assert executed.read_bytes() == first
    notebook = nbformat.reads(first.decode(), as_version=4)
    assert notebook.metadata.papermill.parameters["n_items"] == 3
    assert not set(run.RUN_TIME_FIELDS) & set(notebook.metadata.papermill)
    for cell in notebook.cells:
        assert run.RUN_TIME_CELL_METADATA not in cell.metadata
        assert cell.metadata.papermill == {"exception": False, "status": "completed"}
    assert notebook.cells[2].id == "injected-parameters-2"


@pytest.mark.slow
def test_a_failing_cell_is_named_and_exits_nonzero(demo, capsys):
    set_params(demo, fail=True)
    assert run.main(["demo", "seed=0"]) == 1
    message = capsys.readouterr().err
    assert "demo.ipynb failed in cell" in message and "ValueError: asked to fail" in message
    assert "cell 3 (from pathlib import Path)" in message
    assert "results/demo/0/demo.ipynb" in message
    failed = nbformat.read(str(demo / "results/demo/0/demo.ipynb"), as_version=4)
    assert failed.metadata.papermill.exception and "start_time" not in failed.metadata.papermill
    banners = [cell.id for cell in failed.cells if "papermill-error-cell-tag" in cell.metadata.get("tags", [])]
    assert banners and all(id.startswith("papermill-error-cell-tag-") for id in banners)


def test_a_misspelt_key_stops_before_the_notebook_runs(demo, capsys):
    data = {"demo": {**GOOD["demo"]}}
    data["demo"]["n_itmes"] = data["demo"].pop("n_items")
    (demo / "params.yaml").write_text(yaml.safe_dump(data))
    assert run.main(["demo", "seed=0"]) == 1
    assert "unknown key 'demo.n_itmes'" in capsys.readouterr().err
    assert not (demo / "results").exists()
    with pytest.raises(ParamsError):
        run_stage("demo", {"seed": 0})


def test_notebook_parameter_missing_from_the_schema_is_an_error(demo):
    make_notebook(demo / "demo.ipynb", PARAMETERS + "\nlearning_rate = 0.1")
    with pytest.raises(StageError, match=r"declared in the notebook but not given \['learning_rate'\]"):
        run_stage("demo", {"seed": 0})


def test_schema_field_missing_from_the_notebook_is_an_error(demo):
    make_notebook(demo / "demo.ipynb", PARAMETERS.replace('mode = "fast"\n', ""))
    with pytest.raises(StageError, match=r"given but not declared in the notebook \['mode'\]"):
        run_stage("demo", {"seed": 0})


def test_a_notebook_without_parameters_cell_is_an_error(demo):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, str(demo / "demo.ipynb"))
    with pytest.raises(StageError, match="no cell tagged 'parameters'"):
        run_stage("demo", {"seed": 0})


@pytest.mark.parametrize(
    ("matrix", "expected"),
    [
        ({"seed": 7}, r"seed=7 is not in params demo\.seeds = \[0, 1\]"),
        ({}, "takes matrix values"),
        ({"seed": 0, "trait": "owl"}, "takes matrix values"),
    ],
)
def test_matrix_values_are_checked_against_params(demo, matrix, expected):
    with pytest.raises(StageError, match=expected):
        run_stage("demo", matrix)


def test_unknown_stage_and_bad_matrix_syntax(demo, capsys):
    assert run.main(["nope"]) == 1
    assert "unknown stage 'nope'" in capsys.readouterr().err
    assert run.main(["demo", "seed"]) == 1
    assert "key=value" in capsys.readouterr().err


def test_matrix_values_are_parsed_as_yaml_scalars():
    assert run.parse_matrix(["seed=1", "trait=owl", "rate=0.5"]) == {"seed": 1, "trait": "owl", "rate": 0.5}


def test_a_function_stage_gets_its_section_and_folder(monkeypatch, in_tmp_repo):
    monkeypatch.setattr(params, "SECTION_SCHEMAS", {"demo": "fixtures.demo_schema:DemoParams"})
    stage = Stage("f", "demo", "out", function="fixtures.demo_schema:write_marker")
    monkeypatch.setattr(run, "STAGES", {"f": stage})
    (in_tmp_repo / "params.yaml").write_text(yaml.safe_dump(GOOD))
    run_stage("f")
    assert (in_tmp_repo / "out/marker.txt").read_text() == "3"
    assert [p.name for p in (in_tmp_repo / "out").iterdir()] == ["marker.txt"]
    assert json.loads((in_tmp_repo / "results/records/f.json").read_text())["stage"] == "f"


def test_a_stages_timings_go_to_its_run_record_not_its_folder_nor_its_printed_output(monkeypatch, in_tmp_repo, capsys):
    monkeypatch.setattr(params, "SECTION_SCHEMAS", {"demo": "fixtures.demo_schema:DemoParams"})
    monkeypatch.setattr(
        run, "STAGES", {"f": Stage("f", "demo", "out", function="fixtures.demo_schema:write_marker_timed")}
    )
    (in_tmp_repo / "params.yaml").write_text(yaml.safe_dump(GOOD))
    run_stage("f")
    record = json.loads((in_tmp_repo / "results/records/f.json").read_text())
    assert record["timings"] == {"marker_s": 2.0, "items_per_s": None, "extra_s": 1}
    assert [p.name for p in (in_tmp_repo / "out").iterdir()] == ["marker.txt"]
    assert "timings" not in capsys.readouterr().out
    assert TIMINGS_FILE_VARIABLE not in os.environ  # set only while the stage runs (its temporary file is gone)


@pytest.mark.slow
def test_a_notebooks_timings_reach_the_run_record_and_stay_out_of_the_executed_copy(demo):
    notebook = nbformat.read(str(demo / "demo.ipynb"), as_version=4)
    code = "from sublim.core.runtime import report_timings\nreport_timings(items_s=0.25)"
    notebook.cells.append(nbformat.v4.new_code_cell(code))
    nbformat.write(notebook, str(demo / "demo.ipynb"))
    run_stage("demo", {"seed": 0})
    assert json.loads((demo / "results/records/demo-0.json").read_text())["timings"] == {"items_s": 0.2}
    executed = nbformat.read(str(demo / "results/demo/0/demo.ipynb"), as_version=4)
    assert "timings" not in json.dumps([c.get("outputs", []) for c in executed.cells])  # nothing printed


def test_a_stage_needs_exactly_one_of_notebook_or_function():
    with pytest.raises(ValueError, match="exactly one"):
        Stage("x", "demo", "out")


def test_the_validation_stage_writes_a_constant_marker_and_no_run_record(monkeypatch, in_tmp_repo):
    monkeypatch.setattr(params, "SECTION_SCHEMAS", {"demo": "fixtures.demo_schema:DemoParams"})
    (in_tmp_repo / "params.yaml").write_text(yaml.safe_dump(GOOD))
    run_stage("validate_params")
    marker = in_tmp_repo / "results/params/valid.txt"
    first = marker.read_bytes()
    set_params(in_tmp_repo, n_items=5)
    run_stage("validate_params")
    assert marker.read_bytes() == first  # stages depending on it rerun only for their own changes
    assert not (in_tmp_repo / "results/records").exists()
    set_params(in_tmp_repo, n_items=-1)
    with pytest.raises(ParamsError, match=r"demo\.n_items = -1"):
        run_stage("validate_params")


# ---- under DVC (every output `persist: true`), the runner removes the stage's outputs, after validation

DVC_YAML = """stages:
  f:
    matrix:
      seed: ${demo.seeds}
    cmd: python -m sublim.run f seed=${item.seed}
    outs:
      - out/${item.seed}/marker.txt:
          persist: true
      - results/records/f-${item.seed}.json:
          cache: false
          persist: true
    metrics:
      - out/${item.seed}/metrics.json:
          cache: false
          persist: true
"""


@pytest.fixture
def under_dvc(monkeypatch, in_tmp_repo):
    """A function stage with a matrix, its dvc.yaml, earlier outputs in place, and DVC's variables set."""
    monkeypatch.setattr(params, "SECTION_SCHEMAS", {"demo": "fixtures.demo_schema:DemoParams"})
    stage = Stage("f", "demo", "out/{seed}", function="fixtures.demo_schema:write_marker", matrix={"seed": "seeds"})
    monkeypatch.setattr(run, "STAGES", {"f": stage})
    (in_tmp_repo / "params.yaml").write_text(yaml.safe_dump(GOOD))
    (in_tmp_repo / "dvc.yaml").write_text(DVC_YAML)
    for name in ("out/1/marker.txt", "results/records/f-1.json", "out/1/metrics.json", "out/1/other.txt"):
        (in_tmp_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (in_tmp_repo / name).write_text("earlier run")
    monkeypatch.setenv("DVC_STAGE", "f@1")
    monkeypatch.setenv("DVC_ROOT", str(in_tmp_repo))
    return in_tmp_repo


def test_under_dvc_a_bad_key_leaves_the_outputs_in_place(under_dvc, capsys):
    set_params(under_dvc, n_items=0)
    assert run.main(["f", "seed=1"]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "demo.n_items = 0: Input should be greater than or equal to 1 (expected int — how many items to write)"
        )
    )
    assert all((under_dvc / "out/1" / name).read_text() == "earlier run" for name in ("marker.txt", "metrics.json"))


def test_under_dvc_valid_params_remove_the_declared_outputs_before_the_stage_runs(under_dvc):
    run_stage("f", {"seed": 1})
    folder = under_dvc / "out/1"
    assert (folder / "marker.txt").read_text() == "3"
    assert json.loads((under_dvc / "results/records/f-1.json").read_text())["matrix"] == {"seed": 1}
    assert not (folder / "metrics.json").exists()  # declared, not written by this stage: removed as DVC would
    assert (folder / "other.txt").read_text() == "earlier run"  # not a declared output: kept


def test_outside_dvc_or_for_a_resuming_stage_nothing_is_removed(under_dvc, monkeypatch):
    assert run.clear_dvc_outputs(SimpleNamespace(resumes=True), {"seed": 1}) == []
    monkeypatch.delenv("DVC_STAGE")
    run_stage("f", {"seed": 1})
    assert (under_dvc / "out/1/metrics.json").read_text() == "earlier run"


def test_a_second_runner_on_the_folder_fails_before_removing_or_writing_anything(under_dvc, capsys):
    """A runner left behind by a killed `dvc repro` still holds the folder: the new one stops in one line."""
    with runner_lock(under_dvc / "out/1"):
        assert run.main(["f", "seed=1"]) == 1
    message = capsys.readouterr().err
    assert message.startswith("sublim.run f: out/1 is being written by process") and message.count("\n") == 1
    for name in ("out/1/marker.txt", "out/1/metrics.json", "results/records/f-1.json"):
        assert (under_dvc / name).read_text() == "earlier run"


def test_the_executed_notebook_is_written_while_the_runner_holds_the_folder(demo, monkeypatch):
    """Papermill writes the executed copy into the results folder (at the start, as cells finish, on failure): only
    the runner holding the folder's lock may, so a second runner cannot write its copy over the first one's."""
    import papermill

    holders = []

    def fake_execute(notebook, output, **kwargs):
        holders.append(lock_holder("results/demo/0", "run"))
        nbformat.write(nbformat.v4.new_notebook(), output)

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    run_stage("demo", {"seed": 0})
    assert holders == [os.getpid()]
    assert lock_holder("results/demo/0", "run") is None  # released


def test_an_output_outside_the_repository_or_an_unfilled_one_is_an_error(under_dvc):
    (under_dvc / "dvc.yaml").write_text(DVC_YAML.replace("out/${item.seed}/marker.txt", "../marker.txt"))
    with pytest.raises(StageError, match=r"output '\.\./marker\.txt' lies outside the repository"):
        run_stage("f", {"seed": 1})
    (under_dvc / "dvc.yaml").write_text(DVC_YAML.replace("${item.seed}/marker", "${item.trait}/marker"))
    with pytest.raises(StageError, match=r"output 'out/\$\{item\.trait\}/marker\.txt' has a value the command"):
        run_stage("f", {"seed": 1})
    (under_dvc / "dvc.yaml").write_text(DVC_YAML.replace("  f:", "  g:"))
    with pytest.raises(StageError, match=r"DVC runs stage 'f', which it does not declare; stages: \['g'\]"):
        run_stage("f", {"seed": 1})


def test_an_asset_error_is_one_line_without_traceback_and_a_bug_keeps_its_traceback(monkeypatch, in_tmp_repo, capsys):
    monkeypatch.setattr(params, "SECTION_SCHEMAS", {"demo": "fixtures.demo_schema:DemoParams"})
    stage = Stage("f", "demo", "out", function="fixtures.demo_schema:write_marker")
    monkeypatch.setattr(run, "STAGES", {"f": stage})
    (in_tmp_repo / "params.yaml").write_text(yaml.safe_dump(GOOD))

    def missing_asset(*args):
        raise AssetError("results/assets/mnist/mnist.npz: not found; run `dvc repro assets_mnist`")

    monkeypatch.setattr(run, "call_function", missing_asset)
    assert run.main(["f"]) == 1
    assert capsys.readouterr().err == (
        "sublim.run f: results/assets/mnist/mnist.npz: not found; run `dvc repro assets_mnist`\n"
    )
    monkeypatch.setattr(run, "call_function", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run.main(["f"])


def test_records_of_stage_runs_that_no_longer_exist_are_removed_and_current_ones_kept(monkeypatch, in_tmp_repo):
    monkeypatch.setattr(params, "SECTION_SCHEMAS", {"demo": "fixtures.demo_schema:DemoParams"})
    function = "fixtures.demo_schema:write_marker_timed"
    stages = {
        "f": Stage("f", "demo", "out", function=function),
        "per_seed": Stage("per_seed", "demo", "out/{seed}", function=function, matrix={"seed": "seeds"}),
    }
    monkeypatch.setattr(run, "STAGES", stages)
    (in_tmp_repo / "params.yaml").write_text(yaml.safe_dump(GOOD))
    records = in_tmp_repo / "results/records"
    records.mkdir(parents=True)
    seed = GOOD["demo"]["seeds"][0]
    kept = [records / f"per_seed-{seed}.json"]
    stale = [records / "f-0.json", records / "per_seed.json", records / "per_seed-999.json", records / "gone.json"]
    for path in kept + stale:
        path.write_text("{}")
    run_stage("f")
    assert sorted(p.name for p in records.iterdir()) == sorted(["f.json", *(p.name for p in kept)])


def test_the_runner_skips_the_slow_optional_iri_check_and_nbformat_still_validates():
    """`rfc3987_syntax` costs ~2 s of every stage's start (jsonschema builds its grammars at import); the runner
    marks it absent before papermill loads, and notebooks still validate without it."""
    code = (
        "import sys\n"
        "from sublim import run\n"
        "run.skip_optional_imports()\n"
        "import nbformat, papermill\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "assert all(sys.modules.get(name) is None for name in run.SKIPPED_OPTIONAL_IMPORTS)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
