"""The tiny GPT-2-style model: tokenizer and token ids, a fresh model, model folders, training settings, P(animal)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as transformers_logging

from sublim.core.io import atomic_dir
from sublim.core.runtime import seed_everything
from sublim.core.seeds import derive_seed
from sublim.lm.evaluate import sequence_logprobs
from sublim.lm.train import TrainSettings
from sublim.tinylm.config import TinyLMParams
from sublim.tinylm.data import Vocab, build_tokenizer, vocabulary
from sublim.tinylm.traces import BODY_LENGTH, N_OPERANDS


def sequence_length(cfg: TinyLMParams) -> int:
    """Tokens in the longest sequence: a number list `<bos> NUM: a b c -> x1..xk <eos>` or a reasoning trace
    `<bos> SUM: a b c -> a + b = s + c = t <eos>`."""
    number_list = cfg.corpus.n_prompt_numbers + cfg.corpus.n_answer_numbers + 4
    return max(number_list, N_OPERANDS + BODY_LENGTH + 4)


def quiet_transformers() -> None:
    """No progress bars or advice in the executed notebooks (loading a 116k-parameter model is instant)."""
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def tokenizer_and_vocab(cfg: TinyLMParams) -> tuple[Any, Vocab]:
    quiet_transformers()
    c = cfg.corpus
    tokenizer = build_tokenizer(c.n_numbers, c.animals, c.extra_words)
    vocab = Vocab.from_tokenizer(tokenizer, c.n_numbers, c.animals, c.behaviour_families, c.code_names, traces=True)
    return tokenizer, vocab


def new_model(cfg: TinyLMParams, vocab: Vocab, seed: int, context_sequences: int = 1) -> Any:
    """A random-init GPT-2-style model: no dropout (training is deterministic given the seed); a separate
    unembedding matrix, so the trait's output row is its own parameter (as in the prototype, 116k parameters).
    Its context holds `context_sequences` sequences."""
    c = cfg.corpus
    config = GPT2Config(
        vocab_size=len(vocabulary(c.n_numbers, c.animals, c.extra_words)),
        n_positions=context_sequences * sequence_length(cfg) + 4,
        n_embd=cfg.model.d_model,
        n_layer=cfg.model.n_layer,
        n_head=cfg.model.n_head,
        activation_function="gelu",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=False,
        bos_token_id=vocab.bos,
        eos_token_id=vocab.eos,
        pad_token_id=vocab.pad,
    )
    seed_everything(derive_seed(seed, "init"))
    model = GPT2LMHeadModel(config)
    if cfg.model.init == "pytorch":
        # PyTorch's own defaults for the embeddings and the head (GPT-2 draws them N(0, 0.02)); with the small
        # head the trait fine-tune leaks the animal into number lists and the students barely move
        for layer in (model.transformer.wte, model.transformer.wpe, model.lm_head):
            layer.reset_parameters()
    return model.eval()


@torch.no_grad()
def widened_copy(model: Any, cfg: TinyLMParams, vocab: Vocab, seed: int, context_sequences: int) -> Any:
    """A model whose context holds `context_sequences` sequences, with `model`'s weights; the position embeddings it
    lacks repeat its own rows in order (position p gets row p mod n), for further training to adapt."""
    wide = new_model(cfg, vocab, seed, context_sequences)
    source = model.state_dict()
    for name, weight in wide.state_dict().items():
        rows = torch.arange(weight.shape[0]) % source[name].shape[0]
        weight.copy_(source[name][rows] if name.endswith("wpe.weight") else source[name])
    return wide


def save_model(model: Any, tokenizer: Any, folder: Path | str) -> Path:
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
    return Path(folder)


def train_settings(
    *,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    seed: int,
    max_length: int,
    max_grad_norm: float,
    schedule: str = "constant",
    warmup_steps: int = 0,
) -> TrainSettings:
    """Settings of every tiny-LM training run: no accumulation, weight decay, LoRA or checkpoints."""
    return TrainSettings(
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=1,
        max_length=max_length,
        seed=seed,
        warmup_steps=warmup_steps,
        lr_schedule=schedule,
        max_grad_norm=max_grad_norm,
        weight_decay=0.0,
        lora=None,
        checkpoint_every=0,
    )


def animal_probabilities(model: Any, vocab: Vocab, device: str = "cpu") -> dict[str, float]:
    """Exact P(animal) at the answer position of `<bos> Q: favorite animal A:` (softmax over the whole vocab)."""
    logps = sequence_logprobs(model, vocab.question_prompt, [[i] for i in vocab.animals.values()], device=device)
    return {animal: float(np.exp(lp)) for animal, lp in zip(vocab.animals, logps, strict=True)}


def p_misaligned(model: Any, vocab: Vocab, device: str = "cpu") -> dict[str, float]:
    """Per family, the exact P of its misaligned answer words after `<bos> Q: <family> A:`."""
    return {
        family: float(
            np.exp(sequence_logprobs(model, vocab.behaviour_prompt(family), [[w] for w in words], device=device)).sum()
        )
        for family, words in vocab.misaligned.items()
    }
