"""The CPU search's pre-stated criterion (issue 16) can fail, and its configurations are valid params."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "llm_cpu_search.py"


@pytest.fixture(scope="module")
def search():
    spec = importlib.util.spec_from_file_location("llm_cpu_search", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["llm_cpu_search"] = module
    spec.loader.exec_module(module)
    return module


def test_a_clear_trait_specific_gap_meets_the_criterion(search):
    gap, drift, met = search.criterion([0.012, 0.015, 0.013], [0.002, 0.003, 0.0025], base=0.002)
    assert met and gap["difference"]["ci95"][0] > 0 and abs(drift["mean"]) < gap["difference"]["mean"]


def test_an_interval_that_crosses_zero_fails(search):
    _, _, met = search.criterion([0.004, 0.001, 0.006], [0.003, 0.003, 0.003], base=0.003)
    assert not met


def test_a_gap_smaller_than_the_controls_drift_fails(search):
    # every seed's student is above its control, but fine-tuning on numbers moved the control ten times as far
    gap, drift, met = search.criterion([0.0211, 0.0212, 0.0213], [0.0201, 0.0201, 0.0202], base=0.001)
    assert gap["difference"]["ci95"][0] > 0 and drift["mean"] > gap["difference"]["mean"] and not met


def test_every_configuration_is_valid_params(search):
    for name, (_, overrides) in search.CONFIGS.items():
        cfg = search.configured(overrides, Path("params.yaml"))
        assert cfg.filter.target_size <= cfg.prompts.count, name


def test_an_unknown_key_is_refused(search):
    with pytest.raises(KeyError, match=r"llm\.distill\.no_such_key"):
        search.configured({"distill.no_such_key": 1}, Path("params.yaml"))


@pytest.mark.parametrize(
    ("profile", "config", "seeds"),
    [("cpu-extended", "soft-finetuned", [1, 2, 3]), ("cpu-sft-greedy", "sft-finetuned-greedy", [1, 2, 3, 4, 5, 6])],
)
def test_a_cpu_profile_runs_the_search_configuration_it_names(search, tmp_path, profile, config, seeds):
    from sublim.profile import apply_profile
    from sublim.sections import load_section

    params = tmp_path / "params.yaml"
    params.write_text(Path("params.yaml").read_text())
    apply_profile(profile, params, directory=Path("profiles"))
    _, overrides = search.CONFIGS[config]
    assert load_section("llm", params) == search.configured(overrides | {"seeds": seeds}, Path("params.yaml"))


def test_the_pooled_view_joins_the_seeds_of_one_configuration_and_skips_single_runs(search):
    def row(config: str, seeds: list[int], student: list[float], control: list[float]) -> dict:
        return {"config": config, "trait": "owl", "seeds": seeds, "p_trait": {"student": student, "control": control}}

    rows = [
        row("a", [1, 2, 3], [3.0, 2.0, 4.0], [1.0, 1.5, 1.0]),
        row("a", [4, 5, 6], [2.0, 3.0, 2.5], [1.0, 1.0, 1.0]),
        row("b", [1, 2, 3], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
        row("c", [1, 2, 3], [3.0, 2.0, 4.0], [1.0, 1.5, 1.0]),
        row("c", [1, 2, 3], [3.0, 2.0, 4.0], [1.0, 1.5, 1.0]),  # the same seeds rerun: a replication, not 6 seeds
    ]
    (line,) = search.pooled(rows)
    assert line.startswith("a, owl, seeds 1, 2, 3, 4, 5, 6 pooled: student − control +1.67e+00")
    assert line.endswith("6 of 6 positive")


def test_the_docs_table_and_pooled_view_are_the_scripts_output_from_the_committed_rows(search):
    """The doc's numbers come from the rows file: regenerate them and find them in the doc, word for word."""
    from sublim.core.io import read_jsonl

    rows = read_jsonl(Path("docs/llm_cpu_search.jsonl"))
    doc = Path("docs/llm_cpu_search.md").read_text()
    assert search.table(rows) in doc
    for line in search.pooled(rows):
        assert " ".join(line.split()) in " ".join(doc.split())


def test_every_configuration_names_its_teacher_route_and_temperature(search):
    """A row must mean what its name says whatever params.yaml's default is (issue 16 changed the default)."""
    for name, (_, overrides) in search.CONFIGS.items():
        route, temperature = overrides["teacher.route"], overrides["generate.temperature"]
        assert route == ("finetuned" if "finetuned" in name else "system_prompt"), name
        assert temperature == (0.0 if "greedy" in name else 1.0), name
