"""Keeps `dvc.yaml` in step with the stage registry and the code: each stage's `deps` and `params`.

    python -m sublim.wiring            rewrite the deps and params lists in dvc.yaml (comments kept)
    python -m sublim.wiring --check    exit 1 and say what differs

A stage's deps are the validation marker, its notebook, every `lib/sublim` module its notebook (or function)
imports, directly or through other modules, its input folders and the files it `reads`; its params are the keys it
uses. Deriving the modules from the imports is what keeps DVC's run cache honest: edit a module and every stage
that runs it reruns. Outputs stay hand-written in dvc.yaml (cache, metrics), except the run record, which
the rewrite adds (`cache: false`, in results/records); the check makes sure each output lies in the stage's results
folder or is one of its declared outputs or its run record, and is `persist: true`.

The top-level `plots:` section is written from `sublim.plots.PLOTS` (x, y, template and axis titles of each CSV);
the check makes sure each plot is a stage's output and that no stage declares plots of its own. The only DVC
metrics are the report's headline files (`DVC_METRICS`, a few numbers per experiment); the experiments' detailed
metrics.json files are plain outputs, which the report reads.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from ruamel.yaml import YAML

from sublim.plots import PLOTS, dvc_plots
from sublim.report.claims import HEADLINE_METRICS_DIR
from sublim.run import declared_outputs, output_entries
from sublim.stages import REPORT, STAGES, VALID_PARAMS, Stage

LIB = Path("lib")
DVC_FILE = Path("dvc.yaml")
MARKER = f"{VALID_PARAMS}/valid.txt"
DVC_METRICS = f"{REPORT}/{HEADLINE_METRICS_DIR}"  # `dvc metrics show`: the only declared metrics
PLOTS_COMMENT = "\nWritten by `python -m sublim.wiring` from lib/sublim/plots.py (edit them there)."


def module_file(name: str, root: Path = LIB) -> Path | None:
    """The source file of a `sublim` module (a package's `__init__.py`), or None for a name inside a module."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(source: str) -> set[str]:
    """Every `sublim` module a source imports, anywhere in it (deferred imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("sublim")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sublim"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if module_file(name) is not None}


def notebook_source(path: Path) -> str:
    notebook = nbformat.read(str(path), as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def module_closure(names: set[str]) -> set[Path]:
    """The files of `names` and of every module they import, transitively (package `__init__`s hold no code)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            raise ValueError(f"module {name} (named by a stage) has no file under {LIB}")
        todo += imported_modules(path.read_text())
    files = {module_file(name) for name in seen}
    return {f for f in files if f is not None and f.name != "__init__.py"}


def stage_modules(stage: Stage) -> list[str]:
    if stage.notebook:
        roots = imported_modules(notebook_source(Path(stage.notebook)))
    else:
        roots = {stage.function.split(":")[0]}  # type: ignore[union-attr]
    return sorted(str(path) for path in module_closure(roots))


def dvc_path(template: str, matrix: dict[str, str]) -> str:
    """A path template as dvc.yaml writes it: matrix variables as ${item.x}; an unfilled one cuts the path."""
    path = re.sub(r"\{(\w+)\}", lambda m: f"${{item.{m.group(1)}}}" if m.group(1) in matrix else m.group(0), template)
    return path.split("{", 1)[0].rstrip("/") if "{" in path.replace("${", "") else path


def expected_deps(stage: Stage) -> list[str]:
    deps = [] if stage.section is None else [MARKER]
    if stage.notebook:
        deps.append(stage.notebook)
    deps += stage_modules(stage)
    deps += stage.reads
    deps += [dvc_path(path, stage.matrix) for path in stage.inputs.values()]
    return list(dict.fromkeys(deps))


def expected_params(stage: Stage) -> list[Any]:
    if stage.section is None:
        return ["params.yaml:"]
    if stage.uses is None:
        return [stage.section]
    return [f"{stage.section}.{key}" for key in stage.uses]


def record_output(stage: Stage) -> str | None:
    """The stage's run record as dvc.yaml names it; None for a stage without one."""
    return dvc_path(stage.record_file(), stage.matrix) if stage.record else None


def output_problems(stage: Stage, block: dict[str, Any]) -> list[str]:
    results_dir = dvc_path(stage.results_dir, stage.matrix)
    record = record_output(stage)
    allowed = [dvc_path(p, stage.matrix) for p in stage.outputs.values()] + ([record] if record else [])
    declared = declared_outputs(block)
    problems = [
        f"{stage.name}: output {path} is neither in {results_dir} nor a declared output of the stage"
        for path in declared
        if not any(within(path, folder) for folder in [results_dir, *allowed])
    ]
    problems += [
        f"{stage.name}: declared output {folder} is not in dvc.yaml"
        for folder in allowed
        if not any(within(path, folder) for path in declared)
    ]
    problems += [f"{stage.name}: output {path} must be `persist: true`" for path in not_persistent(block)]
    problems += [
        f"{stage.name}: run record {path} must be `cache: false` (kept in git, never in a cached folder)"
        for path, options in output_entries(block)
        if path == record and options.get("cache", True)
    ]
    if not any(within(path, results_dir) for path in declared):
        problems.append(f"{stage.name}: nothing under its results folder {results_dir} is a DVC output")
    if block.get("plots"):
        problems.append(f"{stage.name}: declares plots; plots are top-level, written from sublim.plots: make them outs")
    problems += [
        f"{stage.name}: metrics {path}: only {DVC_METRICS} is declared as DVC metrics; make it an out"
        for path in declared_outputs({"metrics": block.get("metrics")})
        if path != DVC_METRICS
    ]
    return problems


def within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def plot_problems(dvc: dict[str, Any]) -> list[str]:
    """The top-level plots differ from `sublim.plots`, or one is no stage's output; the headline metrics are not
    declared."""
    problems = []
    if dvc.get("plots") != dvc_plots():
        problems.append("dvc.yaml plots differ from sublim.plots.PLOTS: run `python -m sublim.wiring`")
    outputs = [path for block in dvc["stages"].values() for path in declared_outputs(block.get("do", block))]
    problems += [
        f"plot {plot.path} is no stage's output: declare it (or its folder) among a stage's outs"
        for plot in PLOTS
        if not any(within(plot.path, output) for output in outputs)
    ]
    metrics = [path for block in dvc["stages"].values() for path in declared_outputs({"metrics": block.get("metrics")})]
    if DVC_METRICS not in metrics:
        problems.append(f"{DVC_METRICS} (the headline metrics) is not declared as DVC metrics")
    return problems


def not_persistent(block: dict[str, Any]) -> list[str]:
    """Outputs DVC would delete before the command starts (the runner clears them only after params passed)."""
    return [path for path, options in output_entries(block) if not options.get("persist")]


def stage_block(dvc: dict[str, Any], stage: Stage) -> dict[str, Any]:
    block = dvc["stages"][stage.name]
    return block.get("do", block)


def check(dvc_file: Path = DVC_FILE) -> list[str]:
    dvc = YAML(typ="safe").load(dvc_file.read_text())
    problems = [f"dvc.yaml has no stage {name}" for name in STAGES if name not in dvc["stages"]]
    problems += [
        f"dvc.yaml stage {name} is not registered in sublim.stages" for name in dvc["stages"] if name not in STAGES
    ]
    for stage in (s for s in STAGES.values() if s.name in dvc["stages"]):
        block = stage_block(dvc, stage)
        for key, expected in (("deps", expected_deps(stage)), ("params", expected_params(stage))):
            got = [str(x) if not isinstance(x, dict) else f"{next(iter(x))}:" for x in block.get(key, [])]
            if got != [str(x) for x in expected]:
                missing = [x for x in expected if str(x) not in got]
                extra = [x for x in got if x not in [str(e) for e in expected]]
                problems.append(f"{stage.name}: {key} missing {missing}, not expected {extra}")
        problems += output_problems(stage, block) + overlap_problems(stage)
    return problems + plot_problems(dvc)


def overlap_problems(stage: Stage) -> list[str]:
    """DVC refuses a stage whose dependency folder holds one of its outputs (a report reading every arm's folder
    from the folder it writes into): say so here, before `dvc repro` does."""
    outputs = [dvc_path(p, stage.matrix) for p in (stage.results_dir, *stage.outputs.values())]
    return [
        f"{stage.name}: dependency {dep} holds its output {out}; move the inputs into a folder of their own"
        for dep in (dvc_path(p, stage.matrix) for p in stage.inputs.values())
        for out in outputs
        if out == dep or out.startswith(dep.rstrip("/") + "/")
    ]


def rewrite(dvc_file: Path = DVC_FILE) -> None:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    dvc = yaml.load(dvc_file.read_text())
    for stage in STAGES.values():
        if stage.name not in dvc["stages"]:
            continue
        block = stage_block(dvc, stage)
        block["deps"] = expected_deps(stage)
        add_record_output(block, stage)
        params = expected_params(stage)
        if params:
            block["params"] = [{"params.yaml": None}] if params == ["params.yaml:"] else params
        else:
            block.pop("params", None)
    if "plots" not in dvc:
        dvc["plots"] = None
        dvc.yaml_set_comment_before_after_key("plots", before=PLOTS_COMMENT)
    dvc["plots"] = dvc_plots()
    with dvc_file.open("w") as handle:
        yaml.dump(dvc, handle)


def add_record_output(block: dict[str, Any], stage: Stage) -> None:
    """Declare the stage's run record first among its outs, if it is not yet declared (first: a comment after the
    last entry belongs to the next stage)."""
    record = record_output(stage)
    if record and record not in declared_outputs(block):
        block.setdefault("outs", []).insert(0, {record: {"persist": True, "cache": False}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sublim.wiring", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on a difference")
    args = parser.parse_args(argv)
    if not args.check:
        rewrite()
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
