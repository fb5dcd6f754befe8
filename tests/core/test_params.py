"""params.yaml validation: every section typed, unknown keys, wrong types and impossible values are errors."""

from __future__ import annotations

import pytest
import yaml

from sublim import sections as params
from sublim.core.params import ParamsError
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
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(write(tmp_path, "demo: [unclosed\n"))
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "nope.yaml")


def test_section_from_namespace_rebuilds_the_typed_section(demo_schemas):
    namespace = {**GOOD["demo"], "results_dir": "x", "unrelated": 1}
    assert section_from_namespace("demo", namespace).mode == "fast"
