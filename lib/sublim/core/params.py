"""Typed, strict params sections: the base `Section`, validation with messages that say what to change.

Knows no experiment: the registry of sections (name -> schema) is `sublim.sections`, the front door.
Every error is one line per problem: the file, the dotted key, the value and what is accepted.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

DEFAULT_PARAMS_FILE = Path("params.yaml")
MAX_VALUE_CHARS = 80  # a value longer than this is cut in messages (a whole section never is printed)

T = TypeVar("T")


class Section(BaseModel):
    """Base of every params section: strict keys, strict types, immutable, finite floats (no .inf or .nan)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class ParamsError(ValueError):
    """A params file that does not fit its schema. The message says what to change."""


def _distinct(items: list[T]) -> list[T]:
    repeated = [item for item, count in Counter(map(_hashable, items)).items() if count > 1]
    if repeated:
        verb = "appears" if len(repeated) == 1 else "appear"
        raise ValueError(f"items must be distinct, but {', '.join(map(repr, repeated))} {verb} more than once")
    return items


def _hashable(item: Any) -> Any:
    return repr(item) if isinstance(item, dict | list) else item


# A list whose items must be distinct (traits, seeds, words: a repeated one would count twice).
UniqueList = Annotated[list[T], AfterValidator(_distinct)]
# A seed: numpy, torch and Python's `random` accept non-negative ints only.
Seed = Annotated[int, Field(ge=0)]


def check_order(model: BaseModel, low: str, high: str, *, strict: bool = False, note: str = "") -> None:
    """Raise (in a model validator) unless `low` <= `high` (`low` < `high` when `strict`), naming both keys."""
    low_value, high_value = getattr(model, low), getattr(model, high)
    if low_value > high_value or (strict and low_value == high_value):
        relation = "<" if strict else "<="
        raise ValueError(f"{low} = {low_value!r} must be {relation} {high} = {high_value!r}{note}")


class DuplicateKeyError(yaml.YAMLError):
    """A mapping key given twice in a YAML file (plain YAML silently keeps the last value)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping, naming the dotted key and both lines."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_unique_keys(node, ())
        return super().construct_document(node)


def _check_unique_keys(node: yaml.Node, parents: tuple[str, ...]) -> None:
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_unique_keys(item, (*parents, str(index)))
    if not isinstance(node, yaml.MappingNode):
        return
    first_line: dict[tuple[str, str], int] = {}
    for key_node, value_node in node.value:
        key, line = (key_node.tag, str(key_node.value)), key_node.start_mark.line + 1
        dotted = ".".join((*parents, key[1]))
        if key in first_line:
            raise DuplicateKeyError(
                f"line {line}: key {dotted!r} is given twice (first on line {first_line[key]}); "
                "YAML would keep only the last value: remove one"
            )
        first_line[key] = line
        _check_unique_keys(value_node, (*parents, key[1]))


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ParamsError(f"{path}: file not found (run from the repository root, or pass --params FILE)")
    try:
        data = yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except DuplicateKeyError as err:
        raise ParamsError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: {_yaml_error_line(err)}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    return data


def _yaml_error_line(err: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: where, what, and while doing what."""
    if not isinstance(err, yaml.MarkedYAMLError) or err.problem_mark is None:
        return f"not valid YAML: {' '.join(str(err).split())}"
    mark, context = err.problem_mark, f" ({err.context})" if err.context else ""
    return f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {err.problem}{context}"


def validate(schema: type[Section], values: Any, section: str, path: Path | str = DEFAULT_PARAMS_FILE) -> Section:
    """Validate one section's values against its schema; the error names the file, key, value and what is accepted."""
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: section {section!r} must be a mapping of keys, got {_short(values)}")
    try:
        return schema.model_validate(values)
    except ValidationError as err:
        raise ParamsError(_validation_message(Path(path), section, schema, err)) from None


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

    def __reduce__(self) -> tuple[Any, ...]:
        # the class is made at run time (partial_schema), so pickle (a worker process) rebuilds it from the full one
        return _rebuild_partial, (type(self).__full_schema__, self.model_dump())


def _rebuild_partial(schema: type[Section], values: dict[str, Any]) -> Section:
    return partial_schema(schema, values).model_validate(values)


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
    part = create_model(f"{schema.__name__}Part", __base__=PartialSection, **fields)
    part.__full_schema__ = schema
    return part


def _validation_message(path: Path, section: str, schema: type[BaseModel], err: ValidationError) -> str:
    """One line per error: `FILE: KEY = VALUE: what is wrong (expected TYPE — description)`."""
    return "\n".join(f"{path}: {_error_line(section, schema, error)}" for error in err.errors())


def _error_line(section: str, schema: type[BaseModel], error: Any) -> str:
    loc = error["loc"]
    key = ".".join([section, *map(str, loc)])
    if error["type"] == "extra_forbidden":
        parent = _model_at(schema, loc[:-1])
        accepted = list(parent.model_fields) if parent else []
        return _unknown_keys_message(None, key.rsplit(".", 1)[0], [str(loc[-1])], accepted)
    if error["type"] == "missing":
        return f"missing key {key}{_accepted_hint(schema, loc)}"
    if loc and loc[-1] == "[key]":  # a mapping's key (pydantic's loc: mapping, key, "[key]")
        return f"{'.'.join([section, *map(str, loc[:-2])])} has key {_short(error.get('input'))}: {_reason(error)}"
    if _model_at(schema, loc) is not None and isinstance(error.get("input"), dict):
        # a rule across keys (a model validator): the reason names the keys and values, the section is not printed
        return f"{key}: {_reason(error)}"
    value = error.get("input")
    return f"{key} = {_short(value)}: {_reason(error)}{_accepted_hint(schema, loc)}{_yaml_float_hint(value)}"


def _reason(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ") if error["type"] == "value_error" else message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


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
    while loc and isinstance(loc[-1], int):  # a list item: the list's field says what is accepted
        loc = loc[:-1]
    if not loc:
        return ""
    parent = _model_at(schema, loc[:-1])
    if parent is None or not isinstance(loc[-1], str) or loc[-1] not in parent.model_fields:
        return ""
    field = parent.model_fields[loc[-1]]
    desc = f" — {field.description}" if field.description else ""
    return f" (expected {_type_name(field.annotation)}{desc})"


def _type_name(annotation: Any) -> str:
    """A readable type: `list[int]`, `float | None`, `'fast' | 'slow'` (constraints are in pydantic's message)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " | ".join(map(repr, args))
    if origin in (Union, UnionType):
        return " | ".join(map(_type_name, args))
    if origin is not None:
        return f"{getattr(origin, '__name__', origin)}[{', '.join(map(_type_name, args))}]"
    return "None" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def _yaml_float_hint(value: Any) -> str:
    # PyYAML follows YAML 1.1, where `1e-3` is a string; `1.0e-3` is a float.
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value):
        return f"; YAML reads {value!r} as text: write it with a decimal point, e.g. 1.0e-3"
    return ""
