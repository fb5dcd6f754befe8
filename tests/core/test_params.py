"""params.yaml validation: every section typed, unknown keys, wrong types and impossible values are errors."""

from __future__ import annotations

import pytest
import yaml
from pydantic import Field, ValidationError, model_validator

from sublim import sections as params
from sublim.core.params import ParamsError, Section, Seed, UniqueList, check_order, partial_schema, validate
from sublim.sections import load_params, section_from_namespace

DEMO = {"demo": "fixtures.demo_schema:DemoParams"}
GOOD = {"demo": {"n_items": 3, "mode": "fast", "inner": {"rate": 0.5}, "seeds": [0, 1], "fail": False}}


@pytest.fixture
def demo_schemas(monkeypatch):
    monkeypatch.setattr(params, "SECTION_SCHEMAS", DEMO)


def write(tmp_path, data) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return str(path)


def with_demo(**changes) -> dict:
    section = {**GOOD["demo"], **changes}
    return {"demo": section}


def test_the_committed_params_file_is_valid(repo_root):
    sections = load_params(repo_root / "params.yaml")
    assert set(sections) == set(params.SECTION_SCHEMAS)


def test_a_valid_file_gives_typed_sections(demo_schemas, tmp_path):
    demo = load_params(write(tmp_path, GOOD))["demo"]
    assert demo.n_items == 3 and demo.inner.rate == 0.5


def test_misspelt_key_is_named_with_a_suggestion(demo_schemas, tmp_path):
    data = with_demo()
    data["demo"]["n_itmes"] = data["demo"].pop("n_items")
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, data))
    message = str(err.value)
    assert "demo.n_itmes" in message and "did you mean 'n_items'" in message and "params.yaml" in message


def test_unknown_nested_key_lists_the_accepted_keys(demo_schemas, tmp_path):
    with pytest.raises(ParamsError, match=r"unknown key 'demo\.inner\.speed'.*accepted keys: \['rate'\]"):
        load_params(write(tmp_path, with_demo(inner={"rate": 0.5, "speed": 2})))


def test_unknown_section_is_an_error(demo_schemas, tmp_path):
    with pytest.raises(ParamsError, match=r"unknown key 'dmeo'.*did you mean 'demo'"):
        load_params(write(tmp_path, {**GOOD, "dmeo": {}}))


def test_missing_section_is_an_error(demo_schemas, tmp_path):
    with pytest.raises(ParamsError, match="missing section"):
        load_params(write(tmp_path, {}))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"n_items": "three"}, r"demo\.n_items = 'three'.*expected int"),
        ({"n_items": 2.5}, r"demo\.n_items = 2\.5"),
        ({"n_items": 0}, r"demo\.n_items = 0.*greater than or equal to 1"),
        ({"mode": "medium"}, r"demo\.mode = 'medium'.*'fast' or 'slow'"),
        ({"inner": {"rate": -1.0}}, r"demo\.inner\.rate = -1\.0.*greater than 0"),
        ({"seeds": [0, "x"]}, r"demo\.seeds\.1 = 'x'"),
        ({"fail": "yes"}, r"demo\.fail = 'yes'"),
        ({"inner": {"rate": float("inf")}}, r"demo\.inner\.rate = inf: Input should be a finite number"),
        ({"inner": {"rate": float("nan")}}, r"demo\.inner\.rate = nan: Input should be a finite number"),
    ],
)
def test_wrong_types_and_impossible_values_name_key_and_value(demo_schemas, tmp_path, changes, expected):
    with pytest.raises(ParamsError, match=expected):
        load_params(write(tmp_path, with_demo(**changes)))


def test_yaml_exponent_without_point_gets_a_hint(demo_schemas, tmp_path):
    text = yaml.safe_dump(GOOD).replace("rate: 0.5", "rate: 1e-3")
    with pytest.raises(ParamsError, match="write it with a decimal point"):
        load_params(write(tmp_path, text))


def test_not_a_mapping_and_bad_yaml_are_errors(demo_schemas, tmp_path):
    with pytest.raises(ParamsError, match="mapping of sections"):
        load_params(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, "demo: [unclosed\n"))
    assert str(err.value).endswith(
        "params.yaml: line 2, column 1: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence)"
    )
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "nope.yaml")


def test_section_from_namespace_rebuilds_the_typed_section(demo_schemas):
    namespace = {**GOOD["demo"], "results_dir": "x", "unrelated": 1}
    assert section_from_namespace("demo", namespace).mode == "fast"


class Ranges(Section):
    seeds: UniqueList[Seed] = Field(description="distinct seeds")
    low: int
    high: int

    @model_validator(mode="after")
    def _ordered(self) -> Ranges:
        check_order(self, "low", "high", strict=True, note=" (high is exclusive)")
        return self


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"seeds": [3, 3], "low": 0, "high": 1},
            "r.seeds = [3, 3]: items must be distinct, but 3 appears more than once"
            " (expected list[int] — distinct seeds)",
        ),
        (
            {"seeds": [-2], "low": 0, "high": 1},
            "r.seeds.0 = -2: Input should be greater than or equal to 0 (expected list[int] — distinct seeds)",
        ),
        ({"seeds": [0], "low": 1, "high": 1}, "r: low = 1 must be < high = 1 (high is exclusive)"),
    ],
)
def test_unique_lists_seeds_and_ordered_pairs_are_one_line_each(values, expected):
    with pytest.raises(ParamsError) as err:
        validate(Ranges, values, "r", "p.yaml")
    assert str(err.value) == f"p.yaml: {expected}"
    with pytest.raises(ValidationError):
        Ranges(**values)


def test_every_error_is_one_line_with_the_file_and_no_section_dump(demo_schemas, tmp_path):
    path = write(tmp_path, with_demo(n_items=0, mode="medium", inner={"rate": -1.0}))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    lines = str(err.value).splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{path}: demo.") for line in lines), lines


def test_a_long_value_is_cut_in_the_message(demo_schemas, tmp_path):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, with_demo(mode="x" * 500)))
    assert len(str(err.value)) < 300 and "…" in str(err.value)


def test_a_duplicated_key_is_refused_with_its_dotted_name_and_lines(demo_schemas, tmp_path):
    text = "demo:\n  n_items: 3\n  inner:\n    rate: 0.5\n    rate: 0.7\n"
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, text))
    assert str(err.value).endswith(
        "params.yaml: line 5: key 'demo.inner.rate' is given twice (first on line 4); "
        "YAML would keep only the last value: remove one"
    )


class PickledInner(Section):
    a: int
    b: int


class PickledOuter(Section):
    seeds: list[int]
    inner: PickledInner
    other: int


def test_a_partial_section_survives_pickling_for_worker_processes():
    import pickle

    values = {"seeds": [0, 1], "inner": {"a": 8}}
    part = partial_schema(PickledOuter, values).model_validate(values)
    copy = pickle.loads(pickle.dumps(part))
    assert copy.model_dump() == part.model_dump() and copy.inner.a == 8
    with pytest.raises(AttributeError, match="not among the keys this stage declares"):
        _ = copy.other
