"""The stage runner every `dvc.yaml` command calls.

    python -m sublim.run STAGE [key=value ...] [--params params.yaml] [--kernel sublim]

1. validates the whole params file (any bad key anywhere stops the run before work starts);
2. checks the DVC matrix values (`trait=owl seed=1`) against the lists in the stage's section;
3. takes the runner lock of the stage's results folder (`runner_lock`: a second runner on it fails at once) and,
   holding it until the end:
4. under DVC, removes the stage's outputs (DVC leaves them in place: see `clear_dvc_outputs`);
5. runs the stage's notebook with papermill (explicit kernel; executed copy in the stage's results
   folder, written only by the lock's holder, without the start and end times and durations papermill records:
   the same run gives the same bytes), refusing parameters the notebook does not declare and declared ones it
   is not given, or calls the stage's function;
6. writes the run record (git commit, packages, device, wall time, the timings the stage reported with
   `report_timings`) to `Stage.record_file()` in results/records, outside every cached output folder (so that a
   rerun with the same data changes no folder's hash);
7. turns a failing cell, a refused params file, a missing asset or a folder another runner holds into exit
   code 1 and one line that says what to change (no traceback; an unexpected error keeps its traceback).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import itertools
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from sublim.assets.files import AssetError
from sublim.core.io import FolderLockedError, runner_lock, write_json_atomic, write_text_atomic
from sublim.core.params import DEFAULT_PARAMS_FILE, ParamsError, Section
from sublim.core.runtime import collecting_timings, reported_timings, run_record
from sublim.sections import load_params, load_section, section_from_namespace
from sublim.stages import RECORDS, STAGES, Stage, fill

KERNEL_NAME = "sublim"
# The kernel's own log at errors only: ipykernel warns once per kernel (22 times a `dvc repro`) that its sockets to
# papermill, on this machine, are unencrypted TCP.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",)
# what papermill records of when a run happened: in the notebook's and each cell's `papermill` metadata (the
# cell's `execution` metadata holds nbclient's message times only); the rest (parameters, exceptions) is kept
RUN_TIME_FIELDS = ("start_time", "end_time", "duration")
RUN_TIME_CELL_METADATA = "execution"
# the cells papermill inserts, by their tag: each run gives them a random id, replaced by the tag and position
INSERTED_CELL_TAGS = ("injected-parameters", "papermill-error-cell-tag")
RUNNER_PARAMETERS = ("results_dir",)  # injected by the runner into every notebook (with its inputs/outputs)
DVC_STAGE_VARIABLE = "DVC_STAGE"  # set by DVC for each stage command: `name`, or `name@values` in a matrix
DVC_ROOT_VARIABLE = "DVC_ROOT"  # set by DVC: the repository root
# Optional modules the runner never needs and that cost seconds per stage to import: jsonschema (papermill ->
# nbformat) imports rfc3987_syntax when it is installed (jupyterlab's jupyter-events pulls it in), which builds 38
# lark grammars at import, ~2 s on this CPU for an IRI format check nbformat never uses. Marked as absent, the
# `import` fails and jsonschema goes without that check, as it is written to.
SKIPPED_OPTIONAL_IMPORTS = ("rfc3987_syntax",)


class StageError(RuntimeError):
    """A stage that cannot run or that failed; the message says where and what to do."""


# The errors that say what to change in one line; any other error is a bug and keeps its traceback.
EXPECTED_ERRORS = (ParamsError, StageError, AssetError, FolderLockedError)


def parse_matrix(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise StageError(f"matrix value {pair!r} is not of the form key=value")
        values[key] = yaml.safe_load(raw)
    return values


def check_matrix(stage: Stage, section: Section, matrix: dict[str, Any]) -> None:
    given, declared = set(matrix), set(stage.matrix)
    if given != declared:
        raise StageError(f"stage {stage.name!r} takes matrix values {sorted(declared)}, got {sorted(given)}")
    for key, list_path in stage.matrix.items():
        allowed = _field_at(section, list_path)
        if matrix[key] not in allowed:
            raise StageError(
                f"stage {stage.name!r}: {key}={matrix[key]!r} is not in "
                f"params {stage.section}.{list_path} = {list(allowed)}"
            )


def _field_at(section: Section, dotted: str) -> Any:
    value: Any = section
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def stage_values(stage: Stage, section: Section) -> dict[str, Any]:
    """The part of the section the stage uses (its `uses` keys), as plain values."""
    values = section.model_dump(mode="json")
    return values if stage.uses is None else select(values, stage.uses)


def select(values: dict[str, Any], keys: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`values` restricted to `keys`; a dotted key keeps one nested key (`filter.max_count`), at any depth
    (`misalignment.cot.gsm8k` beside `misalignment.cot.teachers` keeps both)."""
    selected: dict[str, Any] = {}
    for key in keys:
        head, _, rest = key.partition(".")
        _merge(selected, {head: select(values[head], [rest]) if rest else copy.deepcopy(values[head])})
    return selected


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for name, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(name), dict):
            _merge(into[name], value)
        else:
            into[name] = value


def notebook_parameters(stage: Stage, section: Section, matrix: dict[str, Any], results_dir: Path) -> dict:
    return {**stage_values(stage, section), **matrix, **stage.paths(matrix), "results_dir": str(results_dir)}


def skip_optional_imports() -> None:
    """`SKIPPED_OPTIONAL_IMPORTS` fail at import in this process (unless something already imported them)."""
    for name in SKIPPED_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def check_notebook_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Papermill only warns on unknown names; a mismatch either way is an error here."""
    import papermill  # deferred here and below: function stages and `sublim.cells` run without papermill

    declared = set(papermill.inspect_notebook(str(notebook)))
    if not declared:
        raise StageError(f"{notebook}: no cell tagged 'parameters'; tag the literals cell as 'parameters'")
    extra, missing = sorted(set(parameters) - declared), sorted(declared - set(parameters))
    if extra or missing:
        raise StageError(
            f"{notebook}: parameters do not match the params section: "
            f"given but not declared in the notebook {extra}; declared in the notebook but not given {missing}"
        )


def execute_notebook(notebook: Path, output: Path, parameters: dict[str, Any], kernel: str) -> None:
    """Run the notebook with papermill; `check_notebook_parameters` has passed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=kernel,
            progress_bar=False,
            cwd=str(Path.cwd()),
            extra_arguments=list(KERNEL_ARGUMENTS),
        )
    except PapermillExecutionError as err:
        make_executed_stable(output)
        number, first_line = _failing_cell(notebook, output)
        raise StageError(
            f"{notebook} failed in cell {number} ({first_line}): {err.ename}: {err.evalue}\n"
            f"The executed copy with the full traceback is {output}"
        ) from None
    except Exception as err:  # kernel missing, notebook unreadable, ...
        if "No such kernel" in str(err):
            raise StageError(
                f"Jupyter kernel {kernel!r} is not installed: run `make setup` "
                f"(it registers the project's .venv as kernel {KERNEL_NAME!r})"
            ) from None
        raise
    make_executed_stable(output)


def make_executed_stable(executed: Path) -> None:
    """Remove what changes between runs of the same notebook on the same data from its executed copy, atomically:
    the times papermill writes (`RUN_TIME_FIELDS`, `RUN_TIME_CELL_METADATA`) and the random ids of the cells it
    inserts (`INSERTED_CELL_TAGS`). The executed copy is a DVC output: a rerun must keep its hash."""
    import nbformat

    notebook = nbformat.read(str(executed), as_version=4)
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop(RUN_TIME_CELL_METADATA, None)
        inserted = [tag for tag in cell.metadata.get("tags", []) if tag in INSERTED_CELL_TAGS]
        if inserted and "id" in cell:
            cell.id = f"{inserted[0]}-{index}"  # unique: papermill may insert two error banners
    for metadata in (notebook.metadata, *(cell.metadata for cell in notebook.cells)):
        for field in RUN_TIME_FIELDS:
            metadata.get("papermill", {}).pop(field, None)
    write_text_atomic(executed, nbformat.writes(notebook))


def _failing_cell(notebook: Path, output: Path) -> tuple[int | str, str]:
    """The failing cell's 1-based number in the source notebook and its first line.

    Papermill's own cell index counts the cells it inserts (injected parameters, an error banner),
    so the cell is found by its error output and matched back to the source by its text.
    """
    import nbformat

    try:
        executed = nbformat.read(str(output), as_version=4).cells
        failed = next(c for c in executed if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
        sources = [c.source for c in nbformat.read(str(notebook), as_version=4).cells]
    except Exception:
        return "?", "?"
    number: int | str = sources.index(failed.source) + 1 if failed.source in sources else "?"
    first_line = next((line for line in failed.source.splitlines() if line.strip()), "")
    return number, first_line[:80]


def clear_dvc_outputs(stage: Stage, matrix: dict[str, Any]) -> list[Path]:
    """Under DVC, remove the outputs dvc.yaml declares for the running stage; called once params passed validation.

    Why the runner and not DVC: DVC removes a stage's outputs before its command starts (unless they are
    `persist: true`), so a runner refusing params.yaml finds them gone, git-tracked metrics and figures
    included, whenever `validate_params` did not run first (`dvc repro -s STAGE`, `--single-item`,
    `--downstream`, `dvc exp run -s`). DVC runs no code of ours before that removal, and restoring outputs
    afterwards cannot bring back git-tracked files that were never committed. So every output in dvc.yaml
    is `persist: true` (DVC leaves it in place) and the runner removes it here, after validation: a bad key
    stops every way of running a stage with nothing removed. A stage that resumes from its outputs
    (`Stage.resumes`: a killed run continues) keeps them. Outside DVC nothing is removed.
    """
    addressing = os.environ.get(DVC_STAGE_VARIABLE)
    if not addressing or stage.resumes:
        return []
    root = Path(os.environ.get(DVC_ROOT_VARIABLE, "."))
    removed = []
    for path in dvc_outputs(root / "dvc.yaml", addressing.split("@", 1)[0], matrix):
        removed += _remove_inside(root, path)
    return removed


def dvc_outputs(dvc_file: Path, name: str, matrix: dict[str, Any]) -> list[str]:
    """The outs, metrics and plots of stage `name` in a dvc.yaml (relative to the file's folder), with
    `${item.x}` filled from the matrix values."""
    stages = yaml.safe_load(dvc_file.read_text()).get("stages", {})
    if name not in stages:
        raise StageError(f"{dvc_file}: DVC runs stage {name!r}, which it does not declare; stages: {sorted(stages)}")
    block = stages[name].get("do", stages[name])
    wdir = Path(block.get("wdir", "."))
    paths = []
    for path in declared_outputs(block):
        for key, value in matrix.items():
            path = path.replace(f"${{item.{key}}}", str(value))
        if "${" in path:
            raise StageError(f"{dvc_file}: stage {name!r} output {path!r} has a value the command was not given")
        paths.append((wdir / path).as_posix())
    return paths


def output_entries(block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, options) of a dvc.yaml stage's outs, metrics and plots (an entry is a path, or {path: options})."""
    entries = [entry for kind in ("outs", "metrics", "plots") for entry in block.get(kind) or []]
    return [
        (str(next(iter(e))), next(iter(e.values())) or {}) if isinstance(e, dict) else (str(e), {}) for e in entries
    ]


def declared_outputs(block: dict[str, Any]) -> list[str]:
    """The paths of a dvc.yaml stage's outs, metrics and plots."""
    return [path for path, _ in output_entries(block)]


def _remove_inside(root: Path, path: str) -> list[Path]:
    target = root / path
    if not target.resolve().is_relative_to(root.resolve()):
        raise StageError(f"dvc.yaml output {path!r} lies outside the repository {root}: not removed")
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    else:
        return []
    return [target]


def call_function(stage: Stage, section: Section | dict[str, Section], results_dir: Path) -> None:
    module_name, function_name = stage.function.split(":")  # type: ignore[union-attr]
    getattr(importlib.import_module(module_name), function_name)(section, results_dir)


def run_stage(
    name: str,
    matrix: dict[str, Any] | None = None,
    params_file: Path | str = DEFAULT_PARAMS_FILE,
    kernel: str = KERNEL_NAME,
) -> Path:
    if name not in STAGES:
        raise StageError(f"unknown stage {name!r}; known stages: {sorted(STAGES)}")
    stage, matrix = STAGES[name], matrix or {}
    skip_optional_imports()
    section = load_params(params_file) if stage.section is None else load_section(stage.section, params_file)
    if stage.matrix or matrix:
        check_matrix(stage, section, matrix)
    results_dir = Path(fill(stage.results_dir, matrix))
    # every check comes before anything is removed or written
    if stage.notebook:
        parameters = notebook_parameters(stage, section, matrix, results_dir)
        check_notebook_parameters(Path(stage.notebook), parameters)
    elif stage.uses is not None:
        section = section_from_namespace(stage.section, stage_values(stage, section))  # type: ignore[arg-type]
    # papermill writes the executed notebook into the folder: one runner at a time; the stage's timings
    # (`report_timings`) go to its run record, not into its outputs
    with runner_lock(results_dir), collecting_timings():
        clear_dvc_outputs(stage, matrix)
        started = time.monotonic()
        if stage.notebook:
            notebook = Path(stage.notebook)
            execute_notebook(notebook, results_dir / notebook.name, parameters, kernel)
        else:
            call_function(stage, section, results_dir)
        if stage.record:
            record = run_record(name, matrix, time.monotonic() - started, timings=reported_timings())
            write_json_atomic(fill(stage.record_file(), matrix), record)
            remove_stale_records(load_params(params_file))
    return results_dir


def current_record_files(sections: dict[str, Section]) -> set[Path]:
    """The run record of every stage run the params define (each matrix value of each stage)."""
    files = set()
    for stage in STAGES.values():
        lists = [_field_at(sections[stage.section], path) for path in stage.matrix.values()] if stage.matrix else []
        for values in itertools.product(*lists):
            files.add(Path(fill(stage.record_file(), dict(zip(stage.matrix, values, strict=True)))))
    return files


def remove_stale_records(sections: dict[str, Section]) -> list[Path]:
    """Remove the records of stage runs that no longer exist (a renamed stage, a matrix gone or changed, a seed
    dropped): no stage outputs them any more, and the provenance table would count them."""
    stale = sorted(set(Path(RECORDS).glob("*.json")) - current_record_files(sections))
    for path in stale:
        path.unlink()
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sublim.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", help=f"one of {sorted(STAGES)}")
    parser.add_argument("matrix", nargs="*", help="DVC matrix values, key=value")
    parser.add_argument("--params", default=str(DEFAULT_PARAMS_FILE), help="params file (default params.yaml)")
    parser.add_argument("--kernel", default=KERNEL_NAME, help="Jupyter kernel for papermill")
    args = parser.parse_args(argv)
    try:
        results_dir = run_stage(args.stage, parse_matrix(args.matrix), args.params, args.kernel)
    except EXPECTED_ERRORS as err:
        print(f"sublim.run {args.stage}: {err}", file=sys.stderr)
        return 1
    print(f"sublim.run {args.stage}: done, results in {results_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
