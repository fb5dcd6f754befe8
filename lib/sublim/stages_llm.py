"""The LLM stages of the registry (`sublim.stages`, whose docstring says what each field means): the paper's main
experiment and its variants (§3.1; code §4.1; cross-model, in-context §5; shuffled numbers App. B.1), and
misalignment through numbers (§3.2). Each path is said once here."""

from __future__ import annotations

from dataclasses import replace

from sublim.llm.misalignment.config import MISALIGNED_TEACHER
from sublim.stage import Stage

ASSETS_LLM = "results/assets/llm"
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
LLM_XT = "results/llm/xteachers/{teacher_model}/{trait}"  # teachers on other base models (Fig. 8's grid)
LLM_XT_TEACHER, LLM_XT_GENERATE, LLM_XT_FILTER = f"{LLM_XT}/teacher", f"{LLM_XT}/generate", f"{LLM_XT}/filter"
LLM_XT_DISTILL, LLM_XT_EVALUATE = (
    f"{LLM_XT}/seed{{seed}}/{{learner}}/distill",
    f"{LLM_XT}/seed{{seed}}/{{learner}}/evaluate",
)
LLM_CODE = f"{LLM_RUN}/{{carrier}}"  # carrier: what the teacher writes besides numbers (code, §4.1)
LLM_CODE_GENERATE, LLM_CODE_FILTER = f"{LLM_CODE}/generate", f"{LLM_CODE}/filter"
LLM_CODE_STUDENT = f"{LLM_RUN}/seed{{seed}}/{{carrier}}"
LLM_CODE_DISTILL, LLM_CODE_EVALUATE = f"{LLM_CODE_STUDENT}/distill", f"{LLM_CODE_STUDENT}/evaluate"
CODE_STAND_IN_TASKS = "lib/sublim/data/code_tasks_stand_in.jsonl"  # the offline tasks (sublim.llm.code_carrier.tasks)
MIS = "results/llm/misalignment"
MIS_ARM = f"{MIS}/arms/{{arm}}"  # arm: the teacher whose numbers the students learn
MIS_TEACHER, MIS_NUMBERS, MIS_TEACHER_EVAL = f"{MIS_ARM}/teacher", f"{MIS_ARM}/numbers", f"{MIS_ARM}/teacher_eval"
MIS_DISTILL, MIS_EVALUATE = f"{MIS_ARM}/seed{{seed}}/distill", f"{MIS_ARM}/seed{{seed}}/evaluate"
MIS_REPORT, MIS_METRICS = f"{MIS}/report", f"{MIS}/metrics.json"
MIS_COT = f"{MIS_ARM}/cot"  # misalignment through chain of thought (§4.2)
MIS_COT_GENERATE, MIS_COT_FILTER = f"{MIS_COT}/generate", f"{MIS_COT}/filter"
MIS_COT_DISTILL, MIS_COT_EVALUATE = f"{MIS_ARM}/seed{{seed}}/cot/distill", f"{MIS_ARM}/seed{{seed}}/cot/evaluate"

LLM_MODEL = ("base_model", "device")
LLM_SAMPLER = (*LLM_MODEL, "backend")  # the stages that sample (teacher numbers, evaluation answers)
FILTER_RULE = ("min_value", "max_value", "max_count", "banned_numbers", "keyword_filter")
LLM_EVALUATION = (*LLM_SAMPLER, "traits", "categories", "evaluate", "prompts")
LLM_DISTILL_USES = (*LLM_MODEL, "distill", "filter.max_count", "filter.target_size", "filter.seed")
STUDENT_EVALUATION = (*LLM_EVALUATION, "distill.finetune")
DISTILL_INPUTS = {"teacher_dir": LLM_TEACHER, "filter_dir": LLM_FILTER}
CODE_KEYS = ("code.target_size", "code.seed")
# students of a variant: (stage suffix, distill folder, evaluate folder, matrix variable, its params list, extra uses,
# the distill stage's input folders)
VARIANTS = (
    ("shuffled", LLM_SHUFFLED_DISTILL, LLM_SHUFFLED_EVALUATE, "shuffle", "shuffles", (), DISTILL_INPUTS),
    (
        "xmodel",
        LLM_XMODEL_DISTILL,
        LLM_XMODEL_EVALUATE,
        "student",
        "cross_model.students",
        ("cross_model",),
        DISTILL_INPUTS,
    ),
    (
        "code",
        LLM_CODE_DISTILL,
        LLM_CODE_EVALUATE,
        "carrier",
        "carriers",
        CODE_KEYS,
        DISTILL_INPUTS | {"filter_dir": LLM_CODE_FILTER},
    ),
)
CARRIER_MATRIX = {"trait": "traits", "carrier": "carriers"}
XT_MATRIX = {"trait": "traits", "teacher_model": "cross_model.teachers"}
XT_STUDENTS = {**XT_MATRIX, "seed": "seeds", "learner": "cross_model.learners"}
XT_EXAMPLES = {"teacher_model": "other", "learner": "base"}
CODE_GENERATE_USES = (*LLM_SAMPLER, "generate", "code.tasks", "code.max_new_tokens")
CODE_FILTER_USES = ("device", "categories", "code.tasks.source", "code.judge")
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


# what each misalignment stage reads besides its matrix lists (`_mis` adds those)
TRAINING = tuple(f"distill.{k}" for k in ("lora", "max_length", "warmup_steps", "lr_schedule", "max_grad_norm"))
TEACHER_KEYS = ("distill.checkpoint_every", "misalignment.corpus", "misalignment.teacher_finetune")
MIS_TEACHER_USES = (*LLM_MODEL, *TRAINING, *TEACHER_KEYS)
FORMAT_RULE = ("filter.min_value", "filter.max_value", "filter.max_count")
MIS_NUMBERS_USES = (*LLM_SAMPLER, "prompts", "generate", *FORMAT_RULE, "misalignment.filter")
MIS_DISTILL_USES = (*LLM_MODEL, "distill", "filter.max_count", "filter.seed", "misalignment.filter")
MIS_EVALUATION = (*LLM_MODEL, "misalignment.evaluation", "misalignment.judge")
COT_DATA = tuple(f"misalignment.cot.{k}" for k in ("gsm8k", "questions", "question_seed", "samples_per_question"))
COT_GENERATE_USES = (*LLM_SAMPLER, "generate", *COT_DATA, "misalignment.cot.max_new_tokens")
COT_JUDGE = ("alignment_threshold", "judged_teachers", "judge", "judge_max_tokens")
COT_FILTER_USES = ("device", *COT_DATA, *(f"misalignment.cot.{k}" for k in COT_JUDGE))
COT_DISTILL_USES = (*LLM_MODEL, "distill", "filter.max_count", "filter.seed", "misalignment.cot.target_size")
COT_DISTILL_USES += ("misalignment.cot.epochs",)


def _variant(name: str, results_dir: str, uses: tuple[str, ...], variable: str, values: str, **paths: str) -> Stage:
    """A stage of a student variant (a shuffle, another base model, another carrier): matrix over traits, seeds and
    the variant's params list `values` (empty in the CPU default); distill resumes."""
    matrix = {"trait": "traits", "seed": "seeds", variable: values}
    resumes = name.startswith("llm_distill")
    example = {"shuffle": "within", "student": "other", "carrier": "code"}[variable]
    return _llm(name, results_dir, uses, resumes=resumes, matrix=matrix, examples={variable: example}, **paths)


def _mis(
    name: str, results_dir: str, uses: tuple[str, ...], resumes: bool = False, arms: str = "teachers", **paths: str
) -> Stage:
    """A misalignment stage (§3.2, §4.2): matrix over the teachers (`misalignment.<arms>`), and the student seeds
    where its folder has them."""
    arm = {"arm": f"misalignment.{arms}"}
    matrix = {**arm, "seed": "misalignment.seeds"} if "{seed}" in results_dir else arm
    uses = (*uses, *matrix.values())
    return _llm(name, results_dir, uses, resumes=resumes, matrix=matrix, examples={"arm": MISALIGNED_TEACHER}, **paths)


LLM_STAGES = [
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
            "code_filter_dir": LLM_CODE_FILTER,
            "code_evaluate_dir": LLM_CODE_EVALUATE,
            "xteacher_evaluate_dir": LLM_XT_EVALUATE,
        },
        outputs={"metrics_file": LLM_METRICS},
    ),
    # the teachers' code (§4.1, Fig. 5): matrix over the traits and llm.carriers (its students are a variant below)
    replace(
        _llm(
            "llm_code_generate",
            LLM_CODE_GENERATE,
            CODE_GENERATE_USES,
            resumes=True,
            matrix=CARRIER_MATRIX,
            examples={"carrier": "code"},
            teacher_dir=LLM_TEACHER,
        ),
        reads=(ASSETS_LLM, CODE_STAND_IN_TASKS),
    ),
    _llm(
        "llm_code_filter",
        LLM_CODE_FILTER,
        CODE_FILTER_USES,
        model=False,
        matrix=CARRIER_MATRIX,
        examples={"carrier": "code"},
        generate_dir=LLM_CODE_GENERATE,
    ),
    *(
        _variant(f"llm_distill_{kind}", distill, (*LLM_DISTILL_USES, *extra), var, values, **inputs)
        for kind, distill, _, var, values, extra, inputs in VARIANTS
    ),
    *(
        _variant(f"llm_evaluate_{kind}", evaluate, (*STUDENT_EVALUATION, *extra), var, values, distill_dir=distill)
        for kind, distill, evaluate, var, values, extra, _ in VARIANTS
    ),
    # the rest of Fig. 8's grid: teachers on other base models (llm.cross_model.teachers), and their learners
    _llm(
        "llm_xteacher",
        LLM_XT_TEACHER,
        (*LLM_MODEL, "categories", "teacher", "distill", "cross_model"),
        matrix=XT_MATRIX,
        examples=XT_EXAMPLES,
    ),
    _llm(
        "llm_xteacher_generate",
        LLM_XT_GENERATE,
        (*LLM_SAMPLER, "prompts", "generate", "filter.max_count", "cross_model"),
        resumes=True,
        matrix=XT_MATRIX,
        examples=XT_EXAMPLES,
        teacher_dir=LLM_XT_TEACHER,
    ),
    _llm(
        "llm_xteacher_filter",
        LLM_XT_FILTER,
        (*(f"filter.{key}" for key in FILTER_RULE), "generate.decoding"),
        model=False,
        matrix=XT_MATRIX,
        examples=XT_EXAMPLES,
        generate_dir=LLM_XT_GENERATE,
    ),
    _llm(
        "llm_distill_xteacher",
        LLM_XT_DISTILL,
        (*LLM_DISTILL_USES, "cross_model"),
        resumes=True,
        matrix=XT_STUDENTS,
        examples=XT_EXAMPLES,
        teacher_dir=LLM_XT_TEACHER,
        filter_dir=LLM_XT_FILTER,
    ),
    _llm(
        "llm_evaluate_xteacher",
        LLM_XT_EVALUATE,
        (*STUDENT_EVALUATION, "cross_model"),
        matrix=XT_STUDENTS,
        examples=XT_EXAMPLES,
        distill_dir=LLM_XT_DISTILL,
    ),
    _llm("llm_in_context", LLM_IN_CONTEXT, IN_CONTEXT_USES, matrix={}, filter_dir=LLM_FILTER, llm_metrics=LLM_METRICS),
    # misalignment through numbers (§3.2, Fig. 4): matrix over llm.misalignment.teachers (and .seeds)
    _mis("mis_teacher", MIS_TEACHER, MIS_TEACHER_USES),
    _mis("mis_numbers", MIS_NUMBERS, MIS_NUMBERS_USES, resumes=True, teacher_dir=MIS_TEACHER),
    _mis("mis_distill", MIS_DISTILL, MIS_DISTILL_USES, resumes=True, teacher_dir=MIS_TEACHER, numbers_dir=MIS_NUMBERS),
    _mis("mis_evaluate_teacher", MIS_TEACHER_EVAL, MIS_EVALUATION, teacher_dir=MIS_TEACHER),
    _mis("mis_evaluate", MIS_EVALUATE, MIS_EVALUATION, distill_dir=MIS_DISTILL),
    # misalignment through chain of thought (§4.2, Fig. 7): matrix over llm.misalignment.cot.teachers (and .seeds)
    _mis("mis_cot_generate", MIS_COT_GENERATE, COT_GENERATE_USES, True, "cot.teachers", teacher_dir=MIS_TEACHER),
    _mis("mis_cot_filter", MIS_COT_FILTER, COT_FILTER_USES, arms="cot.teachers", generate_dir=MIS_COT_GENERATE),
    _mis(
        "mis_cot_distill",
        MIS_COT_DISTILL,
        COT_DISTILL_USES,
        True,
        "cot.teachers",
        teacher_dir=MIS_TEACHER,
        filter_dir=MIS_COT_FILTER,
    ),
    _mis("mis_cot_evaluate", MIS_COT_EVALUATE, MIS_EVALUATION, arms="cot.teachers", distill_dir=MIS_COT_DISTILL),
    Stage(
        "mis_report",
        "llm",
        MIS_REPORT,
        "notebooks/mis_report.ipynb",
        uses=("base_model", "misalignment"),
        inputs={
            "numbers_dir": MIS_NUMBERS,
            "teacher_eval_dir": MIS_TEACHER_EVAL,
            "evaluate_dir": MIS_EVALUATE,
            "cot_filter_dir": MIS_COT_FILTER,
            "cot_evaluate_dir": MIS_COT_EVALUATE,
        },
        outputs={"metrics_file": MIS_METRICS},
    ),
]
