"""Typed, strict params sections: the base `Section`, validation with messages that say what to change.

Knows no experiment: the registry of sections (name -> schema) is `sublim.sections`, the front door.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

DEFAULT_PARAMS_FILE = Path("params.yaml")


class Section(BaseModel):
    """Base of every params section: strict keys, strict types, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParamsError(ValueError):
    """A params file that does not fit its schema. The message says what to change."""


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


def validate(schema: type[Section], values: Any, section: str, path: Path | str = DEFAULT_PARAMS_FILE) -> Section:
    """Validate one section's values against its schema; the error names the file, key, value and what is accepted."""
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: section {section!r} must be a mapping of keys, got {values!r}")
    try:
        return schema.model_validate(values)
    except ValidationError as err:
        raise ParamsError(_validation_message(Path(path), section, schema, values, err)) from None


def validate_all(schemas: dict[str, type[Section]], path: Path | str = DEFAULT_PARAMS_FILE) -> dict[str, Section]:
    """Validate every section of a params file against `schemas` (section name -> schema); all are required."""
    path = Path(path)
    raw = read_yaml(path)
    unknown = sorted(set(raw) - set(schemas))
    if unknown:
        raise ParamsError(_unknown_keys_message(path, "", unknown, schemas))
    missing = sorted(set(schemas) - set(raw))
    if missing:
        raise ParamsError(f"{path}: missing section(s) {missing}; every section in {sorted(schemas)} is required")
    return {name: validate(schema, raw[name], name, path) for name, schema in schemas.items()}


class PartialSection(Section):
    """A section restricted to the keys one stage declares; reading another key says how to declare it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            return super().__getattr__(name)  # type: ignore[misc]
        raise AttributeError(
            f"params key {name!r} is not among the keys this stage declares ({sorted(type(self).model_fields)}): "
            "add it to the stage's `uses` in lib/sublim/stages.py, then run `python -m sublim.cells`"
        )


def partial_schema(schema: type[Section], values: dict[str, Any]) -> type[Section]:
    """The schema restricted to the keys in `values` (nested sections too): what one stage uses of a section.

    A stage's notebook holds only the keys it uses; reading any other key of the partial section raises
    AttributeError, so a stage cannot depend on a parameter it does not declare.
    """
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if name not in schema.model_fields:
            raise ParamsError(_unknown_keys_message(None, schema.__name__, [name], schema.model_fields))
        info = schema.model_fields[name]
        nested = info.annotation
        is_section = isinstance(nested, type) and issubclass(nested, Section)
        if is_section and isinstance(value, dict) and set(value) != set(nested.model_fields):
            fields[name] = (partial_schema(nested, value), ...)
            continue
        fields[name] = (info.annotation, info)
    return create_model(f"{schema.__name__}Part", __base__=PartialSection, **fields)


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
