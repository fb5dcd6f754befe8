"""The sections of `params.yaml` and their schemas: each experiment package owns its `config` module.

`load_params` validates the whole file, so a misspelt key anywhere stops any stage before it starts, with a
message that names the file, the key, the value and what is accepted.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from sublim.core.io import write_text_atomic
from sublim.core.params import (
    DEFAULT_PARAMS_FILE,
    ParamsError,
    Section,
    partial_schema,
    read_yaml,
    validate,
    validate_all,
)

# section name -> "module:Class"; imported lazily (schemas are light, experiments are not)
SECTION_SCHEMAS: dict[str, str] = {
    "assets": "sublim.assets.config:AssetsParams",
    "mnist": "sublim.mnist.config:MnistParams",
    "theory": "sublim.theory.config:TheoryParams",
    "tinylm": "sublim.tinylm.config:TinyLMParams",
    "llm": "sublim.llm.config:LLMParams",
    "report": "sublim.report.config:ReportParams",
}

__all__ = ["DEFAULT_PARAMS_FILE", "ParamsError", "Section", "read_yaml"]


def schema_for(section: str) -> type[Section]:
    if section not in SECTION_SCHEMAS:
        raise ParamsError(f"unknown params section {section!r}; known sections: {sorted(SECTION_SCHEMAS)}")
    module_name, class_name = SECTION_SCHEMAS[section].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def load_params(path: Path | str = DEFAULT_PARAMS_FILE) -> dict[str, Section]:
    """Validate every section of a params file and return the typed sections by name."""
    return validate_all({name: schema_for(name) for name in SECTION_SCHEMAS}, path)


def load_section(section: str, path: Path | str = DEFAULT_PARAMS_FILE) -> Section:
    """Validate the whole file (so any error anywhere stops the run), return one section."""
    return load_params(path)[section]


def validate_section(section: str, values: Any, path: Path | str = DEFAULT_PARAMS_FILE) -> Section:
    return validate(schema_for(section), values, section, path)


def section_from_namespace(section: str, namespace: dict[str, Any]) -> Section:
    """The part of a section a notebook declares in its parameters cell (`globals()`), validated again.

    Keys the stage does not declare are absent: reading one raises AttributeError.
    """
    schema = schema_for(section)
    values = {key: namespace[key] for key in schema.model_fields if key in namespace}
    if set(values) == set(schema.model_fields) and all(
        not isinstance(v, dict) or not _is_partial(schema, k, v) for k, v in values.items()
    ):
        return validate(schema, values, section, "notebook")
    return validate(partial_schema(schema, values), values, section, "notebook")


def _is_partial(schema: type[Section], key: str, value: dict) -> bool:
    nested = schema.model_fields[key].annotation
    return isinstance(nested, type) and issubclass(nested, Section) and set(value) != set(nested.model_fields)


VALIDATION_MARKER = "valid.txt"


def write_validation_marker(sections: dict[str, Section], results_dir: Path) -> Path:
    """Stage `validate_params`: the file was validated (by the runner) before this is called.

    The marker's content is constant on purpose: stages that depend on it rerun only for their own changes.
    """
    return write_text_atomic(Path(results_dir) / VALIDATION_MARKER, "params.yaml passed validation\n")
