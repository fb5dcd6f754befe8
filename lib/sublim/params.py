"""`params.yaml`: the one source of parameters, validated section by section at load time.

Every section has a typed schema (a `Section` subclass, strict: unknown keys are errors). The
schemas live in `sublim.config.<section>`; `SECTION_SCHEMAS` names them. `load_params` validates
the whole file, so a misspelt key anywhere stops any stage before it starts, with a message that
names the file, the key, the value and what is accepted.
"""

from __future__ import annotations

import difflib
import importlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

DEFAULT_PARAMS_FILE = Path("params.yaml")

# section name -> "module:Class". Each experiment owns its schema module under sublim.config.
SECTION_SCHEMAS: dict[str, str] = {
    "assets": "sublim.config.assets:AssetsParams",
    "mnist": "sublim.config.mnist:MnistParams",
    "theory": "sublim.config.theory:TheoryParams",
    "tinylm": "sublim.config.tinylm:TinyLMParams",
    "llm": "sublim.config.llm:LLMParams",
    "report": "sublim.config.report:ReportParams",
}


class Section(BaseModel):
    """Base of every params section: strict keys, strict types, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParamsError(ValueError):
    """A params file that does not fit its schema. The message says what to change."""


def schema_for(section: str) -> type[Section]:
    """The schema class of a section, imported lazily (schemas are light, experiments are not)."""
    if section not in SECTION_SCHEMAS:
        raise ParamsError(f"unknown params section {section!r}; known sections: {sorted(SECTION_SCHEMAS)}")
    module_name, class_name = SECTION_SCHEMAS[section].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ParamsError(f"{path}: file not found (run from the repository root, or pass --params FILE)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    return data


def load_params(path: Path | str = DEFAULT_PARAMS_FILE) -> dict[str, Section]:
    """Validate every section of a params file and return the typed sections by name."""
    path = Path(path)
    raw = read_yaml(path)
    unknown = sorted(set(raw) - set(SECTION_SCHEMAS))
    if unknown:
        raise ParamsError(_unknown_keys_message(path, "", unknown, SECTION_SCHEMAS))
    missing = sorted(set(SECTION_SCHEMAS) - set(raw))
    if missing:
        raise ParamsError(
            f"{path}: missing section(s) {missing}; every section in {sorted(SECTION_SCHEMAS)} is required"
        )
    return {name: validate_section(name, raw[name], path) for name in SECTION_SCHEMAS}


def load_section(section: str, path: Path | str = DEFAULT_PARAMS_FILE) -> Section:
    """Validate the whole file (so any error anywhere stops the run), return one section."""
    return load_params(path)[section]


def section_from_namespace(section: str, namespace: dict[str, Any]) -> Section:
    """Rebuild a typed section from a notebook's parameter variables (`globals()`), validated again."""
    fields = schema_for(section).model_fields
    return validate_section(section, {key: namespace[key] for key in fields if key in namespace}, "notebook")


def validate_section(section: str, values: Any, path: Path | str = DEFAULT_PARAMS_FILE) -> Section:
    schema = schema_for(section)
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: section {section!r} must be a mapping of keys, got {values!r}")
    try:
        return schema.model_validate(values)
    except ValidationError as err:
        raise ParamsError(_validation_message(Path(path), section, schema, values, err)) from None


def _validation_message(path: Path, section: str, schema: type[BaseModel], values: dict, err: ValidationError) -> str:
    lines = [f"{path}: section {section!r} is not valid:"]
    for error in err.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join([section, *loc])
        if error["type"] == "extra_forbidden":
            parent = _model_at(schema, error["loc"][:-1])
            accepted = list(parent.model_fields) if parent else []
            lines.append("  " + _unknown_keys_message(None, key.rsplit(".", 1)[0], [loc[-1]], accepted))
        elif error["type"] == "missing":
            lines.append(f"  missing key {key}{_accepted_hint(schema, error['loc'])}")
        else:
            lines.append(
                f"  {key} = {error.get('input')!r}: {error['msg']}{_accepted_hint(schema, error['loc'])}"
                + _yaml_float_hint(error.get("input"))
            )
    return "\n".join(lines)


def _unknown_keys_message(path: Path | None, parent: str, keys: list[str], accepted: Any) -> str:
    where = f"{path}: " if path else ""
    parts = []
    for key in keys:
        full = f"{parent}.{key}" if parent else key
        close = difflib.get_close_matches(key, list(accepted), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"{where}unknown key {full!r}{hint}; accepted keys: {sorted(accepted)}")
    return "\n".join(parts)


def _model_at(schema: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The nested model class at a location, for listing its accepted keys."""
    model: Any = schema
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        model = field.annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _accepted_hint(schema: type[BaseModel], loc: tuple) -> str:
    if not loc:  # an error of a whole-section validator (model_validator) has no key
        return ""
    parent = _model_at(schema, loc[:-1])
    if parent is None or not isinstance(loc[-1], str) or loc[-1] not in parent.model_fields:
        return ""
    field = parent.model_fields[loc[-1]]
    desc = f" — {field.description}" if field.description else ""
    return f" (expected {_type_name(field.annotation)}{desc})"


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _yaml_float_hint(value: Any) -> str:
    # PyYAML follows YAML 1.1, where `1e-3` is a string; `1.0e-3` is a float.
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value):
        return f"; YAML reads {value!r} as text: write it with a decimal point, e.g. 1.0e-3"
    return ""


VALIDATION_MARKER = "valid.txt"


def write_validation_marker(sections: dict[str, Section], results_dir: Path) -> Path:
    """Stage `validate_params`: the file was validated (by the runner) before this is called.

    The marker's content is constant on purpose: stages that depend on it rerun only for their own changes.
    """
    from sublim.io import write_text_atomic

    return write_text_atomic(Path(results_dir) / VALIDATION_MARKER, "params.yaml passed validation\n")
