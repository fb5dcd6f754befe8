"""Helpers of the LM core tests: tiny random-init Llama models built from a config, settings, examples."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from sublim.lm.train import Example, TrainSettings

EOS = PAD = 2  # as in SmolLM2: pad == eos


def tiny_llama(seed: int = 0, vocab: int = 40) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=EOS,
        pad_token_id=PAD,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval()


def settings(**overrides) -> TrainSettings:
    base = dict(
        learning_rate=1.0e-2,
        epochs=2,
        batch_size=2,
        grad_accum=2,
        max_length=24,
        seed=3,
        warmup_steps=1,
        lr_schedule="linear",
        max_grad_norm=1.0,
        weight_decay=0.0,
        lora=None,
        checkpoint_every=0,
    )
    base.update(overrides)
    return TrainSettings(**base)


def examples(n: int = 10, seed: int = 0) -> list[Example]:
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        prompt = [1, *torch.randint(5, 40, (3 + i % 4,), generator=g).tolist()]
        completion = [*torch.randint(5, 40, (2 + i % 3,), generator=g).tolist(), EOS]
        rows.append(Example(prompt, completion))
    return rows


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Killed(RuntimeError):
    pass


def kill_at(step_to_die: int):
    def on_step(step: int, loss: float) -> None:
        if step == step_to_die:
            raise Killed

    return on_step
