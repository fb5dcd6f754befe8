"""The pipeline's stages: the one place that says where each stage reads and writes and which params it uses (the
LLM stages are listed in `sublim.stages_llm`, the `Stage` record is in `sublim.stage`).

`dvc.yaml` calls `python -m sublim.run NAME [key=value ...]` for each stage; `tests/test_stages.py` checks that
its `deps`, `params` and `outs` agree with this registry (and with the `lib/` modules each notebook imports).
A stage either executes a notebook with papermill (the experiments) or calls one function (asset preparation,
the HTML export), which has nothing to show.

- `results_dir`, `inputs` and `outputs` are path templates; `{trait}`/`{seed}` are filled with the stage's DVC
  matrix values. A template whose placeholder is not in the stage's matrix (a report reading every trait's
  folder) reaches the stage unfilled, and the stage fills it per trait and seed.
- `uses`: the keys of the params section the stage reads (`filter.max_count` for one nested key); None for the
  whole section. The notebook's parameters cell holds exactly these (`python -m sublim.cells` writes it), and
  the stage gets a section restricted to them: reading an undeclared key fails.
- `reads`: what else the stage reads, by a path that params or code give (the base model, data tables, other
  experiments' metrics): DVC dependencies that are not passed in as folders.
- `matrix` maps each DVC matrix variable to the params list (in the section) of its allowed values.
- The runner writes each run's record (git commit, packages, device, wall time) to `record_file()`, one file per
  stage run in `results/records`: outside every stage's results folder, so a rerun that writes the same data leaves
  the folder's hash alone, and no stage depends on it (the report reads the records without declaring them).
"""

from __future__ import annotations

from sublim.sections import SECTION_SCHEMAS
from sublim.stage import RECORDS, Stage, fill
from sublim.stages_llm import ASSETS_LLM, LLM_IN_CONTEXT, LLM_METRICS, LLM_REPORT, LLM_STAGES, MIS_METRICS

# what other modules import from here: the registry and the names it is built of
__all__ = ["LLM_REPORT", "RECORDS", "STAGES", "Stage", "fill"]


# ---- where each stage writes (each path said once; inputs below refer to these names)
VALID_PARAMS = "results/params"
MNIST, THEORY = "results/mnist", "results/theory"
ASSETS_MNIST = "results/assets/mnist"
TINYLM = "results/tinylm"
TINYLM_BASES, TINYLM_TEACHERS, TINYLM_NUMBERS = f"{TINYLM}/bases", f"{TINYLM}/teachers", f"{TINYLM}/numbers"
TINYLM_STUDENTS, TINYLM_EVALUATION = f"{TINYLM}/students", f"{TINYLM}/evaluation"
TINYLM_CONTROLS, TINYLM_IN_CONTEXT = f"{TINYLM}/controls", f"{TINYLM}/in_context"
TINYLM_GRID, TINYLM_MISALIGNMENT, TINYLM_CODE = f"{TINYLM}/grid", f"{TINYLM}/misalignment", f"{TINYLM}/code"
TINYLM_REASONING, TINYLM_CARRIER_BASES = f"{TINYLM}/reasoning", f"{TINYLM}/carrier_bases"

REPORT = "results/report"
PAPER_DATA = "lib/sublim/data"
# what the report depends on: each experiment's metrics (it reads the run records too, not as a dependency)
EXPERIMENT_METRICS = (
    f"{MNIST}/metrics.json",
    f"{THEORY}/metrics.json",
    f"{TINYLM}/metrics.json",
    LLM_METRICS,
    f"{LLM_IN_CONTEXT}/in_context.json",
    MIS_METRICS,
)


def _tinylm(name: str, results_dir: str, uses: tuple[str, ...] | None = None, **paths: str) -> Stage:
    matrix = {"seed": "seeds"} if "{seed}" in results_dir else {}
    return Stage(name, "tinylm", results_dir, f"notebooks/{name}.ipynb", matrix=matrix, uses=uses, inputs=paths)


_STAGES = [
    # First in the DAG and a dependency of every other stage: a bad params.yaml fails here. (Every output in dvc.yaml
    # is `persist: true` and the runner clears a stage's outputs only after params passed, so `dvc repro -s` with a
    # bad key removes nothing either.) Its output never changes, so it triggers no rerun.
    Stage(
        "validate_params",
        None,
        VALID_PARAMS,
        function="sublim.sections:write_validation_marker",
        reads=tuple(f"lib/{s.split(':')[0].replace('.', '/')}.py" for s in SECTION_SCHEMAS.values()),
        record=False,
    ),
    # asset.json in each asset folder says where it came from; the run record, like every stage's, is outside it
    Stage("assets_llm", "assets", ASSETS_LLM, function="sublim.assets.llm:prepare_llm", uses=("llm",)),
    Stage("assets_mnist", "assets", ASSETS_MNIST, function="sublim.assets.mnist:prepare_mnist", uses=("mnist",)),
    Stage(
        "mnist",
        "mnist",
        MNIST,
        "notebooks/mnist.ipynb",
        reads=(f"{ASSETS_MNIST}/mnist.npz", f"{PAPER_DATA}/paper_mnist.csv"),
    ),
    Stage("theory", "theory", THEORY, "notebooks/theory.ipynb", reads=(f"{ASSETS_MNIST}/mnist.npz", ASSETS_LLM)),
    *LLM_STAGES,  # the paper's LLM experiments (sublim.stages_llm)
    # tiny from-scratch transformer analogue; seeds and traits loop inside each notebook, except distill
    _tinylm("tinylm_pretrain", TINYLM_BASES, ("seeds", "max_grad_norm", "workers", "corpus", "model", "pretrain")),
    _tinylm(
        "tinylm_teacher",
        TINYLM_TEACHERS,
        ("seeds", "traits", "max_grad_norm", "corpus", "teacher"),
        bases_dir=TINYLM_BASES,
    ),
    _tinylm(
        "tinylm_numbers",
        TINYLM_NUMBERS,
        ("seeds", "traits", "workers", "corpus", "numbers"),
        bases_dir=TINYLM_BASES,
        teachers_dir=TINYLM_TEACHERS,
    ),
    _tinylm(
        "tinylm_distill",
        TINYLM_STUDENTS,
        ("seeds", "traits", "max_grad_norm", "workers", "corpus", "student"),
        bases_dir=TINYLM_BASES,
        teachers_dir=TINYLM_TEACHERS,
        numbers_dir=TINYLM_NUMBERS,
    ),
    _tinylm(
        "tinylm_controls",
        TINYLM_CONTROLS,
        ("seeds", "traits", "max_grad_norm", "workers", "corpus", "numbers", "student", "controls"),
        bases_dir=TINYLM_BASES,
        teachers_dir=TINYLM_TEACHERS,
        numbers_dir=TINYLM_NUMBERS,
    ),
    _tinylm(
        "tinylm_in_context",
        TINYLM_IN_CONTEXT,
        (
            *("seeds", "traits", "max_grad_norm", "workers", "corpus", "model", "teacher", "numbers"),
            "student",
            *("controls.trait", "in_context"),
        ),
        bases_dir=TINYLM_BASES,
    ),
    _tinylm(
        "tinylm_grid",
        TINYLM_GRID,
        (
            *("seeds", "traits", "max_grad_norm", "workers", "corpus", "model", "pretrain", "teacher", "numbers"),
            *("student", "controls.trait", "grid"),
        ),
        bases_dir=TINYLM_BASES,
        numbers_dir=TINYLM_NUMBERS,
    ),
    # the carriers (Figs. 4, 5, 7) start from the shared base trained further with behaviour questions and code
    _tinylm(
        "tinylm_carrier_base",
        TINYLM_CARRIER_BASES,
        ("seeds", "max_grad_norm", "workers", "corpus", "carrier_base"),
        bases_dir=TINYLM_BASES,
    ),
    _tinylm(
        "tinylm_misalignment",
        TINYLM_MISALIGNMENT,
        ("seeds", "max_grad_norm", "workers", "corpus", "numbers", "student", "misalignment"),
        bases_dir=TINYLM_CARRIER_BASES,
    ),
    _tinylm(
        "tinylm_code",
        TINYLM_CODE,
        (
            *("seeds", "max_grad_norm", "workers", "corpus", "teacher", "numbers", "student", "controls.trait"),
            "code_carrier",
        ),
        bases_dir=TINYLM_CARRIER_BASES,
    ),
    _tinylm(
        "tinylm_reasoning",
        TINYLM_REASONING,
        ("seeds", "max_grad_norm", "workers", "corpus", "numbers", "student", "misalignment", "reasoning_carrier"),
        bases_dir=TINYLM_CARRIER_BASES,
    ),
    _tinylm(
        "tinylm_evaluate",
        TINYLM_EVALUATION,
        ("seeds", "traits", "corpus", "evaluation", "student.soft_labels"),
        bases_dir=TINYLM_BASES,
        teachers_dir=TINYLM_TEACHERS,
        students_dir=TINYLM_STUDENTS,
    ),
    Stage(
        "tinylm_report",
        "tinylm",
        f"{TINYLM}/report",
        "notebooks/tinylm_report.ipynb",
        uses=(
            *("seeds", "traits", "corpus.animals", "corpus.animal_weights", "model", "student.soft_labels"),
            *("controls.trait", "grid", "corpus.behaviour", "misalignment.narrow_family"),
        ),
        inputs={
            "evaluation_dir": TINYLM_EVALUATION,
            "numbers_dir": TINYLM_NUMBERS,
            "controls_dir": TINYLM_CONTROLS,
            "in_context_dir": TINYLM_IN_CONTEXT,
            "grid_dir": TINYLM_GRID,
            "misalignment_dir": TINYLM_MISALIGNMENT,
            "code_dir": TINYLM_CODE,
            "reasoning_dir": TINYLM_REASONING,
        },
        outputs={"metrics_file": f"{TINYLM}/metrics.json", "plots_dir": f"{TINYLM}/plots"},
    ),
    Stage(
        "report",
        "report",
        REPORT,
        "notebooks/report.ipynb",
        reads=tuple(f"{PAPER_DATA}/{name}.csv" for name in ("paper_values", "paper_claims", "report_figures"))
        + EXPERIMENT_METRICS,
    ),
    # the page for readers, rendered (no code) from the files stage `report` writes (sublim.report.html.REPORT_FILES)
    Stage(
        "report_html",
        "report",
        f"{REPORT}/html",
        function="sublim.report.html:export_html",
        uses=("figures",),
        reads=(
            *(f"{REPORT}/{name}" for name in ("headline.csv", "provenance.csv", "figures")),
            f"{PAPER_DATA}/report_figures.csv",
            "lib/sublim/report/templates/report.html.j2",
        ),
    ),
]
STAGES: dict[str, Stage] = {stage.name: stage for stage in _STAGES}
