"""The pipeline's stages as the runner knows them; `dvc.yaml` calls `python -m sublim.run NAME [key=value ...]`.

A stage either executes a notebook with papermill (the experiments) or calls one function (asset
preparation, which has nothing to show). `matrix` maps each DVC matrix variable to the params field
(a dotted path in the stage's section) that lists its allowed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stage:
    name: str
    section: str | None  # None: the whole params file (the validation stage)
    results_dir: str  # may hold {matrix} placeholders, e.g. "results/llm/{trait}"
    notebook: str | None = None
    function: str | None = None  # "module:function", called as function(section, results_dir)
    matrix: dict[str, str] = field(default_factory=dict)
    record: bool = True  # write run_record.json beside the results

    def __post_init__(self) -> None:
        if (self.notebook is None) == (self.function is None):
            raise ValueError(f"stage {self.name!r}: give exactly one of notebook= or function=")


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in [
        # First in the DAG and a dependency of every other stage: a bad params.yaml fails here, before DVC
        # deletes any stage's outputs to rerun it. Its output never changes, so it triggers no rerun.
        Stage(
            "validate_params", None, "results/params", function="sublim.sections:write_validation_marker", record=False
        ),
        # Asset folders hold no run record (asset.json says where they came from), so that the same pinned asset
        # always hashes the same for DVC and the stages that depend on it.
        Stage("assets_llm", "assets", "results/assets/llm", function="sublim.assets.prepare:prepare_llm", record=False),
        Stage("assets_mnist", "assets", "results/assets/mnist", function="sublim.assets.prepare:prepare_mnist", record=False),
        Stage("mnist", "mnist", "results/mnist", notebook="notebooks/mnist.ipynb"),
        Stage("theory", "theory", "results/theory", notebook="notebooks/theory.ipynb"),
        # the paper's main LLM experiment (issue 5); control = the base model without a trait
        Stage(
            "llm_teacher",
            "llm",
            "results/llm/runs/{trait}/teacher",
            notebook="notebooks/llm_teacher.ipynb",
            matrix={"trait": "traits"},
        ),
        Stage(
            "llm_generate",
            "llm",
            "results/llm/runs/{trait}/generate",
            notebook="notebooks/llm_generate.ipynb",
            matrix={"trait": "traits"},
        ),
        Stage(
            "llm_filter",
            "llm",
            "results/llm/runs/{trait}/filter",
            notebook="notebooks/llm_filter.ipynb",
            matrix={"trait": "traits"},
        ),
        Stage(
            "llm_distill",
            "llm",
            "results/llm/runs/{trait}/seed{seed}/distill",
            notebook="notebooks/llm_distill.ipynb",
            matrix={"trait": "traits", "seed": "seeds"},
        ),
        Stage(
            "llm_evaluate_teacher",
            "llm",
            "results/llm/runs/{trait}/teacher_eval",
            notebook="notebooks/llm_evaluate_teacher.ipynb",
            matrix={"trait": "traits"},
        ),
        Stage(
            "llm_evaluate",
            "llm",
            "results/llm/runs/{trait}/seed{seed}/evaluate",
            notebook="notebooks/llm_evaluate.ipynb",
            matrix={"trait": "traits", "seed": "seeds"},
        ),
        Stage("llm_report", "llm", "results/llm/report", notebook="notebooks/llm_report.ipynb"),
        # tiny from-scratch transformer analogue (issue 4); seeds and traits loop inside, except distill
        Stage("tinylm_pretrain", "tinylm", "results/tinylm/bases", notebook="notebooks/tinylm_pretrain.ipynb"),
        Stage("tinylm_teacher", "tinylm", "results/tinylm/teachers", notebook="notebooks/tinylm_teacher.ipynb"),
        Stage("tinylm_numbers", "tinylm", "results/tinylm/numbers", notebook="notebooks/tinylm_numbers.ipynb"),
        Stage(
            "tinylm_distill",
            "tinylm",
            "results/tinylm/students/seed{seed}",
            notebook="notebooks/tinylm_distill.ipynb",
            matrix={"seed": "seeds"},
        ),
        Stage("tinylm_evaluate", "tinylm", "results/tinylm/evaluation", notebook="notebooks/tinylm_evaluate.ipynb"),
        Stage("tinylm_report", "tinylm", "results/tinylm/report", notebook="notebooks/tinylm_report.ipynb"),
        Stage("report", "report", "results/report", notebook="notebooks/report.ipynb"),
        Stage("report_html", "report", "results/report/html", function="sublim.report.report:export_html"),
    ]
}
