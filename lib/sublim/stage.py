"""`Stage`: one pipeline stage's wiring (see `sublim.stages` for the registry and what each field means)."""

from __future__ import annotations

from dataclasses import dataclass, field

RECORDS = "results/records"


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
