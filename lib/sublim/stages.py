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
    section: str
    results_dir: str  # may hold {matrix} placeholders, e.g. "results/llm/{trait}"
    notebook: str | None = None
    function: str | None = None  # "module:function", called as function(section, results_dir)
    matrix: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.notebook is None) == (self.function is None):
            raise ValueError(f"stage {self.name!r}: give exactly one of notebook= or function=")


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in [
        Stage("assets_llm", "assets", "results/assets/llm", function="sublim.assets:prepare_llm"),
        Stage("assets_mnist", "assets", "results/assets/mnist", function="sublim.assets:prepare_mnist"),
        Stage("mnist", "mnist", "results/mnist", notebook="notebooks/mnist.ipynb"),
        Stage("theory", "theory", "results/theory", notebook="notebooks/theory.ipynb"),
    ]
}
