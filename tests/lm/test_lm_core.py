"""The generic LM core (sublim.lm.train / generate / evaluate) on tiny random-init Llama models built from a config."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from lm_helpers import EOS, PAD, Killed, examples, kill_at, settings, tiny_llama, weights
from transformers import LogitsProcessor

from sublim.lm.evaluate import param_delta_cosine, sequence_logprobs
from sublim.lm.generate import sample
from sublim.lm.train import (
    Example,
    LoraSettings,
    collate,
    distill_soft,
    mean_kl_per_token,
    soft_kl_sum,
    train_sft,
)
from sublim.lm.trie import prefix_cache, tree_logprobs


def test_labels_cover_completion_only_and_keep_eos():
    rows = [Example([1, 7, 8], [9, EOS]), Example([1, 7], [EOS])]
    batch = collate(rows, max_length=16, pad_token_id=PAD)
    assert batch.labels[0].tolist() == [-100, -100, -100, 9, EOS]
    # the second row is padded with PAD == EOS: its learnt eos stays, the padding is masked
    assert batch.input_ids[1].tolist() == [1, 7, EOS, PAD, PAD]
    assert batch.labels[1].tolist() == [-100, -100, EOS, -100, -100]
    assert batch.attention_mask[1].tolist() == [1, 1, 1, 0, 0]


def test_truncation_cuts_the_completion_tail():
    batch = collate([Example([1, 5, 6], [7, 8, 9, EOS])], max_length=5, pad_token_id=PAD)
    assert batch.input_ids[0].tolist() == [1, 5, 6, 7, 8]
    assert batch.labels[0].tolist() == [-100, -100, -100, 7, 8]


def test_sft_loss_ignores_prompt_tokens():
    """Changing prompt tokens' targets cannot matter: the first-step loss equals a manual completion-only CE."""
    model, rows = tiny_llama(), examples(4)
    s = settings(epochs=1, batch_size=4, grad_accum=1, learning_rate=0.0, warmup_steps=0, lr_schedule="constant")
    result = train_sft(copy.deepcopy(model), rows, s, pad_token_id=PAD)
    manual_sum, manual_n = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row.prompt_ids + row.completion_ids])
            logp = F.log_softmax(model(input_ids=ids).logits[0], -1)
            for j, token in enumerate(row.completion_ids):
                manual_sum -= float(logp[len(row.prompt_ids) - 1 + j, token])
                manual_n += 1
    assert result.losses[0] == pytest.approx(manual_sum / manual_n, rel=1e-4)


def test_sft_learns_the_completion():
    model, rows = tiny_llama(), examples(6)
    result = train_sft(model, rows, settings(epochs=15, learning_rate=3.0e-2), pad_token_id=PAD)
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert result.steps == 15 * 2  # 3 micro-batches per epoch, 2 per step -> 2 steps per epoch


@pytest.mark.parametrize("lora", [None, LoraSettings(r=4, alpha=8, dropout=0.1, target_modules=["q_proj", "v_proj"])])
def test_resume_after_kill_gives_the_same_weights(tmp_path, lora):
    rows = examples(10)
    s = settings(epochs=3, checkpoint_every=2, lora=lora, learning_rate=1.0e-2 if lora is None else 5.0e-2)
    straight = train_sft(tiny_llama(), rows, s, pad_token_id=PAD)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Killed):
        train_sft(tiny_llama(), rows, s, pad_token_id=PAD, checkpoint_dir=ckpt, on_step=kill_at(5))
    resumed = train_sft(tiny_llama(), rows, s, pad_token_id=PAD, checkpoint_dir=ckpt)
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-5)
    a, b = weights(straight.model), weights(resumed.model)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert not any("lora" in name for name in a)  # merged into the base


def test_soft_kl_restriction_renormalises_over_allowed_ids():
    torch.manual_seed(0)
    teacher, student = torch.randn(3, 10), torch.randn(3, 10)
    allowed = [1, 4, 7]
    restricted = soft_kl_sum(teacher, student, allowed)
    p, q = F.softmax(teacher[:, allowed], -1), F.softmax(student[:, allowed], -1)
    assert float(restricted) == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-5)
    # logits outside the allowed ids do not matter in the restricted variant, but do in the full one
    changed = student.clone()
    changed[:, 0] += 5.0
    assert float(soft_kl_sum(teacher, changed, allowed)) == pytest.approx(float(restricted), rel=1e-6)
    assert float(soft_kl_sum(teacher, changed, None)) != pytest.approx(float(soft_kl_sum(teacher, student, None)))
    assert float(soft_kl_sum(teacher, teacher.clone(), allowed)) == pytest.approx(0.0, abs=1e-6)


def test_distill_soft_moves_student_towards_teacher_on_allowed_ids():
    teacher, student = tiny_llama(seed=1), tiny_llama(seed=0)
    rows = examples(6)
    allowed = list(range(5, 20))
    s = settings(epochs=10, learning_rate=3.0e-2)
    result = distill_soft(student, teacher, rows, s, pad_token_id=PAD, allowed_token_ids=allowed)
    assert result.losses[-1] < 0.8 * result.losses[0]  # random-init models are near-uniform: KL starts small


def test_distill_soft_uses_the_teachers_own_prompts():
    teacher, student = tiny_llama(seed=1), tiny_llama(seed=0)
    rows = examples(4)
    teacher_rows = [Example([1, 30, 31, *r.prompt_ids[1:]], r.completion_ids) for r in rows]
    s = settings(epochs=1, batch_size=4, grad_accum=1, learning_rate=0.0, warmup_steps=0, lr_schedule="constant")
    same = distill_soft(copy.deepcopy(student), teacher, rows, s, pad_token_id=PAD, allowed_token_ids=None)
    other = distill_soft(
        copy.deepcopy(student),
        teacher,
        rows,
        s,
        pad_token_id=PAD,
        allowed_token_ids=None,
        teacher_examples=teacher_rows,
    )
    assert same.losses[0] != pytest.approx(other.losses[0])
    with pytest.raises(ValueError, match="same completions"):
        distill_soft(
            student,
            teacher,
            rows,
            s,
            pad_token_id=PAD,
            allowed_token_ids=None,
            teacher_examples=[Example(r.prompt_ids, [EOS]) for r in rows],
        )


def test_sampling_is_deterministic_and_stops_at_eos():
    model = tiny_llama()
    prompts = [[1, 5, 6], [1, 7], [1, 8, 9, 10], [1, 11]]
    kwargs = dict(max_new_tokens=8, temperature=1.0, batch_size=3, seed=4, eos_token_id=EOS, pad_token_id=PAD)
    first, again = sample(model, prompts, **kwargs), sample(model, prompts, **kwargs)
    assert first == again
    assert sample(model, prompts, **{**kwargs, "seed": 5}) != first
    for completion in first:
        assert 1 <= len(completion) <= 8
        assert EOS not in completion[:-1]
    # resuming part-way (the last prompt alone, with its index) reproduces the uninterrupted batch seeds
    assert sample(model, prompts[3:], **kwargs, first_index=3) == first[3:]


def test_sampling_applies_the_logits_processor():
    class OnlyTen(LogitsProcessor):
        def __call__(self, input_ids, scores):
            mask = torch.full_like(scores, float("-inf"))
            mask[:, 10] = 0.0
            return scores + mask

    out = sample(
        tiny_llama(),
        [[1, 5]],
        max_new_tokens=4,
        temperature=1.0,
        batch_size=1,
        seed=0,
        eos_token_id=EOS,
        pad_token_id=PAD,
        logits_processor=lambda prompt_len: OnlyTen(),
    )
    assert out == [[10, 10, 10, 10]]


def test_sequence_logprobs_equal_manual_computation():
    model = tiny_llama()
    prompt, continuations = [1, 5, 6], [[7], [8, 9], [10, 11, EOS], [8, 10], [8, 9]]
    got = sequence_logprobs(model, prompt, continuations, batch_size=2)
    with torch.no_grad():
        for value, continuation in zip(got, continuations, strict=True):
            expected = 0.0
            context = list(prompt)
            for token in continuation:
                logp = F.log_softmax(model(input_ids=torch.tensor([context])).logits[0, -1], -1)
                expected += float(logp[token])
                context.append(token)
            assert value == pytest.approx(expected, abs=1e-5)


def test_tree_logprobs_equal_sequence_logprobs_on_shared_prefixes():
    model = tiny_llama()
    prompt = [1, 5, 6]
    continuations = [[7], [8, 9], [10, 11, EOS], [8, 10], [8, 9], [10, 11, 12, EOS], [10]]
    expected = sequence_logprobs(model, prompt, continuations, batch_size=3)
    assert tree_logprobs(model, prompt, continuations) == pytest.approx(expected, abs=1e-5)
    assert tree_logprobs(model, prompt, [[7], [9]]) == pytest.approx(sequence_logprobs(model, prompt, [[7], [9]]))
    with pytest.raises(ValueError, match="empty"):
        tree_logprobs(model, prompt, [[]])
    # after a shared context's cache: the same as the whole prompt, and the cache is ready for the next prompt
    context = [1, 4, 4, 5]
    cache = prefix_cache(model, context)
    for question in ([6, 7], [8]):
        whole = sequence_logprobs(model, context + question, continuations)
        assert tree_logprobs(model, question, continuations, prefix_cache=cache) == pytest.approx(whole, abs=1e-5)
        assert cache.get_seq_length() == len(context)


def test_param_delta_cosine():
    init = tiny_llama(seed=0)
    student, teacher = copy.deepcopy(init), copy.deepcopy(init)
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(0.1)
        for p in student.parameters():
            p.add_(0.2)
    assert param_delta_cosine(student, init, teacher, init) == pytest.approx(1.0)
    with torch.no_grad():
        for p in student.parameters():
            p.sub_(0.4)
    assert param_delta_cosine(student, init, teacher, init) == pytest.approx(-1.0)


def test_the_mean_kl_per_token_takes_the_rows_a_batch_at_a_time_and_divides_by_all_their_tokens():
    torch.manual_seed(0)
    rows_p = [torch.randn(n, 10) for n in (2, 3, 1, 4, 2)]  # each row's completion logits, rows of unequal length
    rows_q = [torch.randn(n, 10) for n in (2, 3, 1, 4, 2)]
    allowed = [1, 4, 7]
    whole = float(soft_kl_sum(torch.cat(rows_p), torch.cat(rows_q), allowed)) / 12

    def logits(rows: list[torch.Tensor]):
        return lambda batch: torch.cat(rows[batch])

    assert mean_kl_per_token(logits(rows_p), logits(rows_q), 5, allowed, rows_per_batch=2) == pytest.approx(whole)
    assert mean_kl_per_token(logits(rows_p), logits(rows_p), 5, allowed) == pytest.approx(0.0, abs=1e-6)
