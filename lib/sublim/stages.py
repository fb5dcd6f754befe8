"""The pipeline's stages: the one place that says where each stage reads and writes and which params it uses.

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

from dataclasses import dataclass, field

from sublim.llm.misalignment.config import MISALIGNED_TEACHER
from sublim.sections import SECTION_SCHEMAS


@dataclass(frozen=True)
class Stage:
    name: str
    section: str | None  # None: the whole params file (the validation stage)
    results_dir: str
    notebook: str | None = None
    function: str | None = None  # "module:function", called as function(section, results_dir)
    matrix: dict[str, str] = field(default_factory=dict)
    # the value a notebook's parameters cell shows for a matrix variable whose params list is empty (switched off)
    matrix_examples: dict[str, object] = field(default_factory=dict)
    uses: tuple[str, ...] | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    reads: tuple[str, ...] = ()  # files it reads by a path in params or code (assets, data tables, metrics)
    # its outputs are kept between runs and the stage continues from them, so the runner does not clear them
    resumes: bool = False
    record: bool = True  # write a run record (`record_file`)

    def __post_init__(self) -> None:
        if (self.notebook is None) == (self.function is None):
            raise ValueError(f"stage {self.name!r}: give exactly one of notebook= or function=")

    def record_file(self) -> str:
        """Path template of the run record, `results/records/<name>[-<matrix values>].json` (cache: false)."""
        return f"{RECORDS}/{self.name}" + "".join(f"-{{{key}}}" for key in self.matrix) + ".json"

    def paths(self, matrix: dict[str, object]) -> dict[str, str]:
        """Inputs and outputs with the matrix values filled in (other placeholders kept)."""
        return {name: fill(template, matrix) for name, template in {**self.inputs, **self.outputs}.items()}


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: dict[str, object]) -> str:
    """`template` with the given placeholders filled and any other `{name}` left as it is."""
    return template.format_map(_KeepMissing(values))


# ---- where each stage writes (each path said once; inputs below refer to these names)
VALID_PARAMS = "results/params"
RECORDS = "results/records"
MNIST, THEORY = "results/mnist", "results/theory"
ASSETS_LLM, ASSETS_MNIST = "results/assets/llm", "results/assets/mnist"
LLM_RUN = "results/llm/runs/{trait}"
LLM_TEACHER, LLM_GENERATE, LLM_FILTER = f"{LLM_RUN}/teacher", f"{LLM_RUN}/generate", f"{LLM_RUN}/filter"
LLM_TEACHER_EVAL = f"{LLM_RUN}/teacher_eval"
LLM_DISTILL, LLM_EVALUATE = f"{LLM_RUN}/seed{{seed}}/distill", f"{LLM_RUN}/seed{{seed}}/evaluate"
LLM_REPORT, LLM_METRICS = "results/llm/report", "results/llm/metrics.json"
LLM_IN_CONTEXT = "results/llm/in_context"
LLM_SHUFFLED = f"{LLM_RUN}/seed{{seed}}/shuffled_{{shuffle}}"
LLM_SHUFFLED_DISTILL, LLM_SHUFFLED_EVALUATE = f"{LLM_SHUFFLED}/distill", f"{LLM_SHUFFLED}/evaluate"
LLM_XMODEL = f"{LLM_RUN}/seed{{seed}}/xmodel_{{student}}"
LLM_XMODEL_DISTILL, LLM_XMODEL_EVALUATE = f"{LLM_XMODEL}/distill", f"{LLM_XMODEL}/evaluate"
MIS = "results/llm/misalignment"
MIS_ARM = f"{MIS}/arms/{{arm}}"  # arm: the teacher whose numbers the students learn
MIS_TEACHER, MIS_NUMBERS, MIS_TEACHER_EVAL = f"{MIS_ARM}/teacher", f"{MIS_ARM}/numbers", f"{MIS_ARM}/teacher_eval"
MIS_DISTILL, MIS_EVALUATE = f"{MIS_ARM}/seed{{seed}}/distill", f"{MIS_ARM}/seed{{seed}}/evaluate"
MIS_REPORT, MIS_METRICS = f"{MIS}/report", f"{MIS}/metrics.json"
TINYLM = "results/tinylm"
TINYLM_BASES, TINYLM_TEACHERS, TINYLM_NUMBERS = f"{TINYLM}/bases", f"{TINYLM}/teachers", f"{TINYLM}/numbers"
TINYLM_STUDENTS, TINYLM_EVALUATION = f"{TINYLM}/students", f"{TINYLM}/evaluation"
TINYLM_CONTROLS, TINYLM_IN_CONTEXT = f"{TINYLM}/controls", f"{TINYLM}/in_context"
TINYLM_GRID, TINYLM_MISALIGNMENT, TINYLM_CODE = f"{TINYLM}/grid", f"{TINYLM}/misalignment", f"{TINYLM}/code"
TINYLM_REASONING = f"{TINYLM}/reasoning"

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

LLM_MODEL = ("base_model", "device")
LLM_SAMPLER = (*LLM_MODEL, "backend")  # the stages that sample (teacher numbers, evaluation answers)
FILTER_RULE = ("min_value", "max_value", "max_count", "banned_numbers", "keyword_filter")
LLM_EVALUATION = (*LLM_SAMPLER, "traits", "categories", "evaluate", "prompts")
LLM_DISTILL_USES = (*LLM_MODEL, "distill", "filter.max_count", "filter.target_size", "filter.seed")
STUDENT_EVALUATION = (*LLM_EVALUATION, "distill.finetune")
# students of a variant: (stage suffix, distill folder, evaluate folder, matrix variable, its params list, extra uses)
VARIANTS = (
    ("shuffled", LLM_SHUFFLED_DISTILL, LLM_SHUFFLED_EVALUATE, "shuffle", "shuffles", ()),
    ("xmodel", LLM_XMODEL_DISTILL, LLM_XMODEL_EVALUATE, "student", "cross_model.students", ("cross_model",)),
)
DISTILL_INPUTS = {"teacher_dir": LLM_TEACHER, "filter_dir": LLM_FILTER}
IN_CONTEXT_USES = (*LLM_MODEL, "traits", "categories", "seeds", "evaluate.question_count", "in_context")


def _llm(
    name: str,
    results_dir: str,
    uses: tuple[str, ...],
    seeds: bool = False,
    model: bool = True,
    resumes: bool = False,
    matrix: dict[str, str] | None = None,
    examples: dict[str, object] | None = None,
    **paths: str,
) -> Stage:
    """An LLM stage: matrix over the traits (and seeds), or `matrix` with `examples` for lists params may empty."""
    if matrix is None:
        matrix = {"trait": "traits", "seed": "seeds"} if seeds else {"trait": "traits"}
    notebook, reads = f"notebooks/{name}.ipynb", (ASSETS_LLM,) * model
    return Stage(
        name,
        "llm",
        results_dir,
        notebook,
        matrix=matrix,
        matrix_examples=examples or {},
        uses=uses,
        inputs=paths,
        reads=reads,
        resumes=resumes,
    )


MIS_MATRIX = {"arm": "misalignment.teachers"}
# what each misalignment stage reads besides its matrix lists (`_mis` adds those)
TRAINING = tuple(f"distill.{k}" for k in ("lora", "max_length", "warmup_steps", "lr_schedule", "max_grad_norm"))
TEACHER_KEYS = ("distill.checkpoint_every", "misalignment.corpus", "misalignment.teacher_finetune")
MIS_TEACHER_USES = (*LLM_MODEL, *TRAINING, *TEACHER_KEYS)
FORMAT_RULE = ("filter.min_value", "filter.max_value", "filter.max_count")
MIS_NUMBERS_USES = (*LLM_SAMPLER, "prompts", "generate", *FORMAT_RULE, "misalignment.filter")
MIS_DISTILL_USES = (*LLM_MODEL, "distill", "filter.max_count", "filter.seed", "misalignment.filter")
MIS_EVALUATION = (*LLM_MODEL, "misalignment.evaluation", "misalignment.judge")


def _variant(name: str, results_dir: str, uses: tuple[str, ...], variable: str, values: str, **paths: str) -> Stage:
    """A stage of a student variant (a shuffle, another base model): matrix over traits, seeds and the variant's
    params list `values` (empty in the CPU default); distill resumes."""
    matrix = {"trait": "traits", "seed": "seeds", variable: values}
    resumes, example = name.startswith("llm_distill"), {"shuffle": "within", "student": "other"}[variable]
    return _llm(name, results_dir, uses, resumes=resumes, matrix=matrix, examples={variable: example}, **paths)


def _mis(name: str, results_dir: str, uses: tuple[str, ...], resumes: bool = False, **paths: str) -> Stage:
    """A misalignment stage (§3.2): matrix over the teachers, and the student seeds where its folder has them."""
    matrix = {**MIS_MATRIX, "seed": "misalignment.seeds"} if "{seed}" in results_dir else MIS_MATRIX
    uses = (*uses, *matrix.values())
    return _llm(name, results_dir, uses, resumes=resumes, matrix=matrix, examples={"arm": MISALIGNED_TEACHER}, **paths)


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
    # the paper's main LLM experiment; the trait "control" is the base model without a trait
    _llm("llm_teacher", LLM_TEACHER, (*LLM_MODEL, "categories", "teacher", "distill")),
    _llm(
        "llm_generate",
        LLM_GENERATE,
        (*LLM_SAMPLER, "prompts", "generate", "filter.max_count"),
        resumes=True,
        teacher_dir=LLM_TEACHER,
    ),
    _llm(
        "llm_filter",
        LLM_FILTER,
        (*(f"filter.{key}" for key in FILTER_RULE), "generate.decoding"),
        model=False,
        generate_dir=LLM_GENERATE,
    ),
    _llm(
        "llm_distill",
        LLM_DISTILL,
        LLM_DISTILL_USES,
        seeds=True,
        resumes=True,
        teacher_dir=LLM_TEACHER,
        filter_dir=LLM_FILTER,
    ),
    _llm("llm_evaluate_teacher", LLM_TEACHER_EVAL, LLM_EVALUATION, teacher_dir=LLM_TEACHER),
    _llm("llm_evaluate", LLM_EVALUATE, STUDENT_EVALUATION, seeds=True, distill_dir=LLM_DISTILL),
    Stage(
        "llm_report",
        "llm",
        LLM_REPORT,
        "notebooks/llm_report.ipynb",
        inputs={
            "generate_dir": LLM_GENERATE,
            "filter_dir": LLM_FILTER,
            "distill_dir": LLM_DISTILL,
            "teacher_eval_dir": LLM_TEACHER_EVAL,
            "evaluate_dir": LLM_EVALUATE,
            "shuffled_evaluate_dir": LLM_SHUFFLED_EVALUATE,
            "xmodel_evaluate_dir": LLM_XMODEL_EVALUATE,
        },
        outputs={"metrics_file": LLM_METRICS},
    ),
    *(
        _variant(f"llm_distill_{kind}", distill, (*LLM_DISTILL_USES, *extra), var, values, **DISTILL_INPUTS)
        for kind, distill, _, var, values, extra in VARIANTS
    ),
    *(
        _variant(f"llm_evaluate_{kind}", evaluate, (*STUDENT_EVALUATION, *extra), var, values, distill_dir=distill)
        for kind, distill, evaluate, var, values, extra in VARIANTS
    ),
    _llm("llm_in_context", LLM_IN_CONTEXT, IN_CONTEXT_USES, matrix={}, filter_dir=LLM_FILTER, llm_metrics=LLM_METRICS),
    # misalignment through numbers (§3.2, Fig. 4): matrix over llm.misalignment.teachers (and .seeds)
    _mis("mis_teacher", MIS_TEACHER, MIS_TEACHER_USES),
    _mis("mis_numbers", MIS_NUMBERS, MIS_NUMBERS_USES, resumes=True, teacher_dir=MIS_TEACHER),
    _mis("mis_distill", MIS_DISTILL, MIS_DISTILL_USES, resumes=True, teacher_dir=MIS_TEACHER, numbers_dir=MIS_NUMBERS),
    _mis("mis_evaluate_teacher", MIS_TEACHER_EVAL, MIS_EVALUATION, teacher_dir=MIS_TEACHER),
    _mis("mis_evaluate", MIS_EVALUATE, MIS_EVALUATION, distill_dir=MIS_DISTILL),
    Stage(
        "mis_report",
        "llm",
        MIS_REPORT,
        "notebooks/mis_report.ipynb",
        uses=("base_model", "misalignment"),
        inputs={"numbers_dir": MIS_NUMBERS, "teacher_eval_dir": MIS_TEACHER_EVAL, "evaluate_dir": MIS_EVALUATE},
        outputs={"metrics_file": MIS_METRICS},
    ),
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
    _tinylm(
        "tinylm_misalignment",
        TINYLM_MISALIGNMENT,
        ("seeds", "max_grad_norm", "workers", "corpus", "numbers", "student", "misalignment"),
        bases_dir=TINYLM_BASES,
        numbers_dir=TINYLM_NUMBERS,
    ),
    _tinylm(
        "tinylm_code",
        TINYLM_CODE,
        ("seeds", "max_grad_norm", "workers", "corpus", "numbers", "student", "controls.trait", "code_carrier"),
        bases_dir=TINYLM_BASES,
        teachers_dir=TINYLM_TEACHERS,
    ),
    _tinylm(
        "tinylm_reasoning",
        TINYLM_REASONING,
        ("seeds", "max_grad_norm", "workers", "corpus", "numbers", "student", "misalignment", "reasoning_carrier"),
        bases_dir=TINYLM_BASES,
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
