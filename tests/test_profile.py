"""Switching params.yaml to a profile (the paper's GPU settings): comments kept, validated, checked first."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from sublim.core.params import ParamsError
from sublim.profile import ProfileError, apply_profile, main, merge_into_yaml, read_profile
from sublim.sections import load_params

REPO = Path(__file__).resolve().parents[1]


def test_paper_profile_merges_keeping_comments_and_validates(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    apply_profile("paper", params, skip_checks=True, directory=REPO / "profiles")
    text = params.read_text()
    assert "# The paper's main experiment" in text  # comments kept
    sections = load_params(params)
    llm, assets = sections["llm"], sections["assets"]
    assert assets.llm.source == "hub" and assets.llm.hub_id == "Qwen/Qwen2.5-7B-Instruct"
    assert llm.prompts.count == 30000 and llm.filter.target_size == 10000 and llm.generate.decoding == "free"
    assert (llm.distill.batch_size * llm.distill.grad_accum, llm.distill.epochs) == (66, 3)
    assert llm.distill.learning_rate == pytest.approx(2.0e-4)
    assert llm.traits[0] == "control" and "cat" in llm.traits  # the paper's Qwen set
    assert {"owl", "oak"} <= set(llm.traits) and llm.carriers == ["code"]  # and its ten nano traits, with code
    assert llm.cross_model.teachers == ["llama"] and llm.misalignment.cot.teachers  # Fig. 8's grid, Fig. 7
    assert llm.evaluate.samples_per_question == 200
    assert llm.backend == "vllm" and read_profile("paper-14b", REPO / "profiles")["requires"]["vllm"]
    apply_profile("paper-14b", params, skip_checks=True, directory=REPO / "profiles")
    assert load_params(params)["assets"].llm.hub_id == "Qwen/Qwen2.5-14B-Instruct"
    assert read_profile("paper-14b", REPO / "profiles")["params"]["llm"]["prompts"]["count"] == 30000


def test_profile_fails_fast_without_gpu_or_hub(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    before = params.read_text()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ProfileError, match="needs a CUDA GPU"):
        apply_profile("paper", params, directory=REPO / "profiles")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProfileError, match="hub"):
        apply_profile("paper", params, directory=REPO / "profiles")
    assert params.read_text() == before  # nothing written
    monkeypatch.setattr("sublim.profile.check_hub_model", lambda model_id: None)  # the hub reached
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # no vLLM: the paper profile samples with it
    with pytest.raises(ProfileError, match=r"vLLM \(llm.backend: vllm\).*pip install '\.\[gpu\]'"):
        apply_profile("paper", params, directory=REPO / "profiles")
    assert params.read_text() == before  # nothing written
    with pytest.raises(ProfileError, match="no profile"):
        apply_profile("nope", params, directory=REPO / "profiles")
    with pytest.raises(ProfileError, match="does not have"):
        merge_into_yaml(before, {"llm": {"not_a_key": 1}})


def test_a_key_given_twice_in_a_profile_is_refused_naming_it(tmp_path, capsys, monkeypatch):
    """Plain YAML keeps the last value: the profile loader is params.yaml's, which refuses the duplicate."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles/twice.yaml").write_text("params:\n  llm:\n    seeds: [1]\n    seeds: [2]\n")
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    before = params.read_text()
    with pytest.raises(ParamsError, match=r"line 4: key 'params\.llm\.seeds' is given twice \(first on line 3\)"):
        read_profile("twice", tmp_path / "profiles")
    monkeypatch.chdir(tmp_path)
    assert main(["twice", "--params", str(params), "--skip-checks"]) == 1
    assert capsys.readouterr().err.count("\n") == 1 and params.read_text() == before


def test_a_small_float_in_a_profile_is_written_back_as_a_float():

    text = merge_into_yaml("a:\n  lr: 0.1\n  b: 2.0e-4\n", {"a": {"lr": 0.00001}})
    assert "1.0e-05" in text and "2.0e-4" in text
    assert yaml.safe_load(text) == {"a": {"lr": 1e-05, "b": 2e-4}}


def test_a_profile_fills_an_empty_mapping_but_not_a_misspelt_key():
    text = merge_into_yaml("a:\n  models: {}\n  b: 1\n", {"a": {"models": {"llama": "meta-llama/x"}}})
    assert "llama: meta-llama/x" in text
    with pytest.raises(ProfileError, match=r"sets a\.c,"):
        merge_into_yaml("a:\n  models: {}\n  b: 1\n", {"a": {"c": 2}})


def test_a_profile_changes_only_the_lines_of_the_keys_it_sets():
    before = (REPO / "params.yaml").read_text()
    after = merge_into_yaml(before, read_profile("cpu-sft-greedy", REPO / "profiles")["params"])
    changed = [(old, new) for old, new in zip(before.splitlines(), after.splitlines(), strict=True) if old != new]
    assert len(changed) == 4  # seeds, count, target_size, samples_per_question (route and greedy: the default's)
    assert (changed[0][0][:21], changed[0][1][:27]) == ("  seeds: [1, 2, 3]   ", "  seeds: [1, 2, 3, 4, 5, 6]")
    for old, new in changed:  # each comment stays where it was
        assert old.index(" # ") == new.index(" # ") and old.split(" # ", 1)[1] == new.split(" # ", 1)[1]


def test_a_value_that_is_not_on_its_keys_line_falls_back_to_a_round_trip_that_keeps_null():
    text = merge_into_yaml("a:\n  xs:\n  - 1\n  - 2\n  judge: null  # off\n", {"a": {"xs": [3]}})
    assert yaml.safe_load(text) == {"a": {"xs": [3], "judge": None}}
    assert "judge: null  # off" in text
    edited = merge_into_yaml("a:\n  judge: null  # off\n  b: 'x # y'   # z\n", {"a": {"b": "w"}})
    assert edited == "a:\n  judge: null  # off\n  b: w         # z\n"  # a '#' inside quotes is no comment


def test_the_profile_writer_leaves_other_yaml_writers_as_they_were():
    import io

    from ruamel.yaml import YAML

    merge_into_yaml("a:\n  xs:\n  - 1\n  judge: null\n", {"a": {"xs": [3]}})  # the round trip's representers
    out = io.StringIO()
    YAML().dump({"sha256": None, "lr": 1e-05}, out)  # as DVC writes dvc.lock
    assert out.getvalue() == "sha256:\nlr: 1e-05\n"
