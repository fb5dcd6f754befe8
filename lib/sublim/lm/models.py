"""Base models and tokenizers: from a hub id, a local transformers folder, or a GGUF file.

Never `trust_remote_code`; weights are saved as safetensors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

from sublim.core.io import atomic_dir

# transformers (and torch with it) are imported inside the functions on purpose: this module is imported by
# `python -m sublim.assets` and the theory's MLP trials, which must not wait seconds for an import they never use.


def load_tokenizer(source: str | Path, gguf_file: str | None = None, revision: str | None = None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(source), gguf_file=gguf_file, revision=revision, trust_remote_code=False)


def load_causal_lm(
    source: str | Path,
    gguf_file: str | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    revision: str | None = None,
):
    """A causal LM from a hub id or local folder, or (with `gguf_file`) dequantized from a GGUF file."""
    import torch
    from transformers import AutoModelForCausalLM

    with quiet_loading():
        model = AutoModelForCausalLM.from_pretrained(
            str(source),
            gguf_file=gguf_file,
            dtype=getattr(torch, dtype),
            revision=revision,
            trust_remote_code=False,
        )
    return model.to(device)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers' own progress bars off in the block. Its bar for loading weights prints a speed (it/s) into a
    stage's executed notebook, a DVC output that must not change between two runs of the same params and data."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@contextmanager
def no_progress_bars() -> Iterator[None]:
    """No progress bars in the block: a few seconds' conversion has nothing to report in the log.

    Loading and saving follow transformers' own switch (`quiet_loading`); the GGUF dequantization calls tqdm
    directly (tqdm reads `TQDM_DISABLE` only when first imported), so its module's tqdm is swapped for a disabled
    one meanwhile."""
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    with quiet_loading(), mock.patch.object(gguf_utils, "tqdm", partial(gguf_utils.tqdm, disable=True)):
        yield


def convert_gguf(gguf: Path, out_dir: Path) -> Path:
    """Dequantize a GGUF checkpoint once into a transformers folder (safetensors, tokenizer, chat template)."""
    with no_progress_bars():
        tokenizer = load_tokenizer(gguf.parent, gguf_file=gguf.name)
        model = load_causal_lm(gguf.parent, gguf_file=gguf.name)
        # A GGUF-loaded model carries a quantizer that refuses to serialize; the weights are plain fp32 now.
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        with atomic_dir(out_dir) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
    return out_dir


def download_hub_model(hub_id: str, revision: str, out_dir: Path) -> Path:
    """Save a hub model as a local folder so later stages never need the network."""
    tokenizer = load_tokenizer(hub_id, revision=revision)
    model = load_causal_lm(hub_id, revision=revision)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return out_dir
