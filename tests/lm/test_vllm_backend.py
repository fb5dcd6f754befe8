"""The vLLM backend on CPU: request building (every sampling setting explicit, a seed per request, stop at eos only),
output parsing against recorded vLLM outputs, LoRA requests and ranks, and the clear stop when vLLM or CUDA is missing.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import types
from pathlib import Path

import pytest
import torch
from fixtures.vllm_fakes import FakeLoRARequest, FakeRegex, fake_api, request_output

from sublim.core.params import read_yaml
from sublim.core.seeds import derive_seed
from sublim.lm import vllm_backend
from sublim.lm.generate import Sampling
from sublim.lm.vllm_backend import (
    BackendUnavailable,
    adapter_id,
    completion_ids,
    import_vllm,
    lora_rank,
    lora_request,
    sample_vllm,
    sampling_params,
    start_engine,
)

REPO = Path(__file__).resolve().parents[2]
EOS = 2
PAPER = Sampling(temperature=1.0)  # the paper's: T = 1, nothing else


def test_sampling_params_are_explicit_and_stop_at_the_chat_eos_only():
    params = sampling_params(fake_api(), PAPER, max_tokens=200, seed=11, eos_token_id=EOS)
    assert params.fields == {
        "n": 1,
        "seed": 11,
        "max_tokens": 200,
        "min_tokens": 0,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": -1,  # off, in vLLM's spelling
        "repetition_penalty": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "min_p": 0.0,
        "ignore_eos": True,  # the tokenizer's / generation_config.json's eos ids do not stop a request
        "stop_token_ids": [EOS],  # the chat format's eos does
        "detokenize": False,
    }
    chosen = sampling_params(fake_api(), Sampling(0.7, 0.9, 20, 1.05), max_tokens=5, seed=0, eos_token_id=EOS)
    assert (chosen.temperature, chosen.top_p, chosen.top_k, chosen.repetition_penalty) == (0.7, 0.9, 20, 1.05)


def test_greedy_sets_no_sampling_cut():
    params = sampling_params(fake_api(), Sampling(0.0, 0.5, 3), max_tokens=5, seed=0, eos_token_id=EOS)
    assert params.temperature == 0.0 and "top_p" not in params.fields and "top_k" not in params.fields


@pytest.mark.parametrize("structured", [True, False], ids=["structured_outputs", "guided_decoding"])
def test_the_number_grammar_goes_in_as_a_regex_in_the_installed_spelling(structured):
    params = sampling_params(fake_api(structured=structured), PAPER, max_tokens=5, seed=0, eos_token_id=EOS, regex="a+")
    key = "structured_outputs" if structured else "guided_decoding"
    assert params.fields[key] == FakeRegex("a+")


def test_each_request_has_its_own_seed_and_a_resume_keeps_them():
    engines: list = []
    api = fake_api(lambda prompt, params: ([prompt[-1], EOS], "stop"), engines)
    engine = api.LLM(model="m")
    prompts = [[1, 5], [1, 6], [1, 7], [1, 8]]
    out = sample_vllm(engine, api, prompts, sampling=PAPER, max_new_tokens=4, seed=9, eos_token_id=EOS)
    assert out == [[5, EOS], [6, EOS], [7, EOS], [8, EOS]]
    call = engine.calls[0]
    assert [p["prompt_token_ids"] for p in call["prompts"]] == prompts and call["tqdm"] is False
    seeds = [p.seed for p in call["params"]]
    assert seeds == [derive_seed(9, "request", i) for i in range(4)] and len(set(seeds)) == 4
    sample_vllm(engine, api, prompts[2:], sampling=PAPER, max_new_tokens=4, seed=9, eos_token_id=EOS, first_index=2)
    assert [p.seed for p in engine.calls[1]["params"]] == seeds[2:]


def test_outputs_parse_as_generate_returns_them():
    """eos kept when it ended the completion; a token cap leaves the ids as they are; nothing after eos."""
    assert completion_ids(request_output("0", [5, 6, EOS], "stop", EOS), EOS) == [5, 6, EOS]
    assert completion_ids(request_output("1", [5, 6, 7], "length"), EOS) == [5, 6, 7]
    assert completion_ids(request_output("2", [5, EOS, 9], "length"), EOS) == [5, EOS]
    assert completion_ids(request_output("3", [EOS], "stop", EOS), EOS) == [EOS]  # an empty answer


@pytest.mark.parametrize("reason", ["abort", "error", None])
def test_an_unfinished_or_failed_request_raises(reason):
    with pytest.raises(RuntimeError, match=f"finished with {reason!r}"):
        completion_ids(request_output("7", [5], reason), EOS)


def test_a_stop_without_eos_means_vllm_changed_and_raises():
    with pytest.raises(RuntimeError, match="without its eos"):
        completion_ids(request_output("4", [5, 6], "stop", "\n"), EOS)


def test_lora_ranks_and_requests():
    assert [lora_rank(r) for r in (1, 2, 8, 9, 64, 300, 512)] == [1, 8, 8, 16, 64, 320, 512]
    with pytest.raises(ValueError, match="above"):
        lora_rank(513)
    request = lora_request(fake_api(), "student-owl-seed1", "/x/student", 5)
    assert request == FakeLoRARequest("student-owl-seed1", 5, "/x/student")


def test_adapter_ids_are_distinct_and_valid_over_the_paper_grid():
    traits = read_yaml(REPO / "profiles" / "paper.yaml")["params"]["llm"]["traits"]
    keys = [("teacher", t) for t in traits] + [("student", t, s) for t in traits for s in range(1, 9)]
    ids = [adapter_id(*key) for key in keys]
    assert len(set(ids)) == len(ids) and all(1 <= i < 2**31 for i in ids)
    assert adapter_id("student", "owl", 1) == adapter_id("student", "owl", 1)  # stable


def test_the_engine_reads_nothing_from_generation_config_and_enables_lora_only_for_an_adapter():
    engines: list = []
    api = fake_api(engines=engines)
    start_engine(api, "/m", tokenizer="/m", max_model_len=300, seed=0)
    start_engine(api, "/m", tokenizer="/t", max_model_len=300, seed=0, max_lora_rank=8)
    plain, lora = (e.engine_args for e in engines)
    assert plain["generation_config"] == "vllm" and plain["dtype"] == "bfloat16" and "enable_lora" not in plain
    assert (lora["enable_lora"], lora["max_lora_rank"], lora["max_loras"], lora["tokenizer"]) == (True, 8, 1, "/t")


def fake_vllm_modules(monkeypatch) -> None:
    """`import vllm` succeeds: a package with LLM, SamplingParams, TokensPrompt and the two submodules used."""
    modules = {}
    for name in ("vllm", "vllm.lora", "vllm.lora.request", "vllm.sampling_params"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=name != "vllm.lora.request")
        modules[name] = module
    modules["vllm"].LLM, modules["vllm"].SamplingParams, modules["vllm"].TokensPrompt = "LLM", "SP", "TP"
    modules["vllm.lora.request"].LoRARequest = FakeLoRARequest
    modules["vllm.sampling_params"].StructuredOutputsParams = FakeRegex
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


def test_missing_vllm_stops_with_one_line_naming_the_key(monkeypatch):
    monkeypatch.setattr(vllm_backend.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendUnavailable) as err:
        import_vllm("llm.backend")
    message = str(err.value)
    assert "\n" not in message and "llm.backend" in message
    assert "pip install '.[gpu]'" in message and "llm.backend: transformers" in message


def test_missing_cuda_stops_before_vllm_is_imported(monkeypatch):
    fake_vllm_modules(monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailable, match=r"llm.backend is 'vllm' but torch sees no CUDA GPU.*transformers"):
        import_vllm("llm.backend")


def test_with_vllm_and_cuda_the_api_is_vllms_and_scheduling_is_deterministic(monkeypatch):
    fake_vllm_modules(monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    api = import_vllm("llm.backend")
    assert (api.LLM, api.SamplingParams, api.TokensPrompt, api.LoRARequest) == ("LLM", "SP", "TP", FakeLoRARequest)
    assert api.regex_params("x") == {"structured_outputs": FakeRegex("x")}
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"


def test_a_broken_vllm_install_stops_with_the_cause(monkeypatch):
    fake_vllm_modules(monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delitem(sys.modules, "vllm.sampling_params")
    monkeypatch.setattr(vllm_backend.importlib, "import_module", _fail_on("vllm.sampling_params"))
    with pytest.raises(BackendUnavailable, match=r"fails to import \(ImportError: undefined symbol") as err:
        import_vllm("llm.backend")
    assert "\n" not in str(err.value)


def _fail_on(name):
    real = importlib.import_module

    def import_module(target, *args):
        if target == name:
            raise ImportError("undefined symbol: a torch mismatch\n(the rest of the loader's message)")
        return real(target, *args)

    return import_module
