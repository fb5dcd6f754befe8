"""Loading the base model: a local transformers folder and the GGUF it was converted from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sublim.assets.llm import gguf_path
from sublim.lm.chat import ChatFormat
from sublim.lm.models import load_causal_lm, load_tokenizer, no_progress_bars
from sublim.sections import load_section

REPO = Path(__file__).resolve().parents[2]
ASSET = REPO / "results" / "assets" / "llm"


def _need_asset() -> None:
    if not (ASSET / "config.json").exists():
        pytest.fail(f"{ASSET}: the base model asset is missing; run `make assets && dvc repro assets_llm`")


def test_local_folder_loads_with_chat_template_and_pad_equal_eos():
    _need_asset()
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
    gguf = gguf_path(load_section("assets", REPO / "params.yaml").llm)  # fails with a how-to if missing
    from_gguf = load_causal_lm(gguf.parent, gguf_file=gguf.name)
    from_folder = load_causal_lm(ASSET)
    name = "model.layers.0.self_attn.q_proj.weight"
    torch.testing.assert_close(from_gguf.state_dict()[name], from_folder.state_dict()[name])


def test_no_progress_bars_silences_the_conversion_s_bars_and_restores_transformers_switch(capsys):
    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    with no_progress_bars():
        list(gguf_utils.tqdm(range(3), desc="dequantizing"))  # the GGUF conversion's own tqdm
        list(hf_logging.tqdm(range(3), desc="loading"))  # transformers' loading and saving
    assert capsys.readouterr().err == ""
    assert hf_logging.is_progress_bar_enabled() == enabled
    list(gguf_utils.tqdm(range(3), desc="dequantizing"))
    assert "dequantizing" in capsys.readouterr().err
