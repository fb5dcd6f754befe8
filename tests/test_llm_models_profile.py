"""Loading the base model (local folder, GGUF) and switching params.yaml to the paper profile."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from sublim.sections import load_params, load_section
from sublim.profile import ProfileError, apply_profile, merge_into_yaml, read_profile

REPO = Path(__file__).resolve().parents[1]
ASSET = REPO / "results" / "assets" / "llm"


def _need_asset() -> None:
    if not (ASSET / "config.json").exists():
        pytest.fail(f"{ASSET}: the base model asset is missing; run `make assets && dvc repro assets_llm`")


def test_local_folder_loads_with_chat_template_and_pad_equal_eos():
    _need_asset()
    from sublim.lm.chat import ChatFormat
    from sublim.lm.models import load_causal_lm, load_tokenizer

    tokenizer = load_tokenizer(ASSET)
    model = load_causal_lm(ASSET)
    assert model.config.model_type == "llama" and model.dtype == torch.float32
    assert tokenizer.pad_token_id == tokenizer.eos_token_id  # the trap that masking by pad id would fall into
    text = ChatFormat(tokenizer).prompt_text("Hi")
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_gguf_loads_to_the_same_weights_as_the_converted_folder():
    _need_asset()
    from sublim.assets.prepare import gguf_path
    from sublim.lm.models import load_causal_lm

    gguf = gguf_path(load_section("assets", REPO / "params.yaml").llm)  # fails with a how-to if missing
    from_gguf = load_causal_lm(gguf.parent, gguf_file=gguf.name)
    from_folder = load_causal_lm(ASSET)
    name = "model.layers.0.self_attn.q_proj.weight"
    torch.testing.assert_close(from_gguf.state_dict()[name], from_folder.state_dict()[name])


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
    assert "owl" in llm.traits and "willow" in llm.traits and llm.evaluate.samples_per_question == 200
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
    with pytest.raises(ProfileError, match="no profile"):
        apply_profile("nope", params, directory=REPO / "profiles")
    with pytest.raises(ProfileError, match="does not have"):
        merge_into_yaml(before, {"llm": {"not_a_key": 1}})
