"""The three networks Theorem 1 is measured on; each builds one trial's `ImitationTask` and its inits.

mnist_mlp: the paper's MNIST MLP (trait = classifying real digits; students see noise, aux or all logits).
tiny_transformer: a random-init LlamaForCausalLM (trait = one token after a question; students see number tokens).
smollm2: SmolLM2-135M-Instruct (trait = an answer in the chat template; students see number-list prompts).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch.func import functional_call

from sublim.core.seeds import derive_seed
from sublim.theory.config import MlpTheory, SmolLM2Theory, TinyTransformerTheory
from sublim.theory.imitation import ImitationTask, Params

# ---------------------------------------------------------------- model 1: the MNIST MLP


def init_mlp(layer_sizes: list[int], seed: int, dtype: torch.dtype = torch.float64) -> Params:
    """Weights ~ N(0, std 1/√d_in), biases 0 (the paper's MNIST code)."""
    generator = torch.Generator().manual_seed(seed)
    params: Params = {}
    for index, (d_in, d_out) in enumerate(itertools.pairwise(layer_sizes)):
        params[f"weight{index}"] = torch.randn(d_in, d_out, generator=generator, dtype=dtype) / math.sqrt(d_in)
        params[f"bias{index}"] = torch.zeros(d_out, dtype=dtype)
    return params


def mlp_logits(params: Params, images: torch.Tensor) -> torch.Tensor:
    """784 -> ReLU layers -> logits (no activation on the output)."""
    hidden = images.flatten(1)
    n_layers = len(params) // 2
    for index in range(n_layers):
        hidden = hidden @ params[f"weight{index}"] + params[f"bias{index}"]
        if index < n_layers - 1:
            hidden = torch.relu(hidden)
    return hidden


def mnist_images_to_unit_range(images: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """uint8 pixels -> [-1, 1], as ToTensor() + Normalize((0.5,), (0.5,))."""
    return torch.as_tensor(images, dtype=dtype) / 127.5 - 1.0


def mlp_trial(cfg: MlpTheory, mnist: dict[str, np.ndarray], seed: int, trial: int, dtype: torch.dtype):
    """One trial's task and inits: a trait batch of real MNIST images, fresh noise inputs, shared and other init."""
    generator = torch.Generator().manual_seed(derive_seed(seed, 1, trial, 0))
    picked = torch.randint(0, len(mnist["train_labels"]), (cfg.trait_batch,), generator=generator).numpy()
    images = mnist_images_to_unit_range(mnist["train_images"][picked], dtype)
    labels = torch.as_tensor(mnist["train_labels"][picked], dtype=torch.long)
    noise = torch.rand(cfg.student_batch, 28 * 28, generator=generator, dtype=dtype) * 2 - 1

    def trait_loss(params: Params) -> torch.Tensor:  # classification on the class logits only
        return torch.nn.functional.cross_entropy(mlp_logits(params, images)[:, : cfg.n_classes], labels)

    task = ImitationTask(
        trait_loss=trait_loss,
        student_logits=lambda params: mlp_logits(params, noise),
        targets={"aux": slice(cfg.n_classes, None), "all": slice(None)},
    )
    inits = {
        "shared": init_mlp(cfg.layer_sizes, derive_seed(seed, 1, trial, 1), dtype),
        "different": init_mlp(cfg.layer_sizes, derive_seed(seed, 1, trial, 2), dtype),
    }
    return task, inits


# ---------------------------------------------------------------- model 2: a tiny random-init transformer


def tiny_llama(cfg: TinyTransformerTheory, dtype: torch.dtype):
    """The module whose parameters the trials swap in (its own weights are never used)."""
    # deferred: transformers takes seconds to import and only the transformer trials need it
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=max(len(cfg.question_tokens), cfg.student_length) + 1,
        attn_implementation="eager",
        use_cache=False,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return LlamaForCausalLM(config).to(dtype).eval()


def init_like(module: torch.nn.Module, seed: int) -> Params:
    """A fresh draw of the module's own initializer (transformers' `_init_weights`), as a parameter dict."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        fresh = type(module)(module.config).to(next(module.parameters()).dtype)
    return {name: value.detach() for name, value in fresh.named_parameters()}


def tiny_transformer_trial(cfg: TinyTransformerTheory, module: torch.nn.Module, seed: int, trial: int):
    generator = torch.Generator().manual_seed(derive_seed(seed, 2, trial, 0))
    low, high = cfg.number_tokens
    numbers = torch.randint(low, high, (cfg.student_batch, cfg.student_length), generator=generator)
    question = torch.tensor([cfg.question_tokens])

    def trait_loss(params: Params) -> torch.Tensor:  # −log P(trait token | question)
        logits = functional_call(module, params, (question,)).logits[0, -1]
        return -logits.log_softmax(-1)[cfg.trait_token]

    task = ImitationTask(
        trait_loss=trait_loss,
        student_logits=lambda params: functional_call(module, params, (numbers,)).logits,
        targets={"all": slice(None)},
    )
    inits = {
        "shared": init_like(module, derive_seed(seed, 2, trial, 1)),
        "different": init_like(module, derive_seed(seed, 2, trial, 2)),
    }
    return task, inits


# ---------------------------------------------------------------- model 3: SmolLM2-135M-Instruct (optional)


def number_prompt(generator: np.random.Generator, count: int) -> str:
    numbers = ", ".join(str(n) for n in generator.integers(100, 1000, count))
    return (
        f"The sequence starts with: {numbers}. Add up to 10 new numbers (3 digits each) that continue the "
        "sequence. Return a comma-separated list of numbers. Say only the numbers - nothing more."
    )


def smollm2_trial(cfg: SmolLM2Theory, model, tokenizer, seed: int, trial: int):
    """Shared init only: the pretrained weights are the one init there is."""
    chat = [{"role": "user", "content": cfg.question}]
    prompt_text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(cfg.answer, add_special_tokens=False)["input_ids"]
    question = torch.tensor([list(prompt_ids) + answer_ids])
    n_answer = len(answer_ids)

    def trait_loss(params: Params) -> torch.Tensor:  # −log P(answer | question), summed over the answer tokens
        logits = functional_call(model, params, (question,)).logits[0, -n_answer - 1 : -1]
        return -logits.log_softmax(-1).gather(-1, torch.tensor(answer_ids)[:, None]).sum()

    rng = np.random.default_rng(derive_seed(seed, 3, trial, 0))
    chats = [
        [{"role": "user", "content": number_prompt(rng, cfg.numbers_per_prompt)}] for _ in range(cfg.student_batch)
    ]
    texts = [tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False) for chat in chats]
    tokenizer.padding_side = "right"
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    task = ImitationTask(
        trait_loss=trait_loss,
        student_logits=lambda params: (
            functional_call(
                model, params, (), {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
            ).logits
        ),
        targets={"all": slice(None)},
        position_weights=batch["attention_mask"].to(next(model.parameters()).dtype),
    )
    return task, {"shared": {name: value.detach() for name, value in model.named_parameters()}}
