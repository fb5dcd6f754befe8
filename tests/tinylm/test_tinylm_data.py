"""The tiny-LM language (sublim.tinylm.data): tokenizer, corpus, prompts and the number filter."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import PreTrainedTokenizerFast

from sublim.tinylm.data import (
    Vocab,
    build_tokenizer,
    filter_completions,
    number_lists,
    pretraining_corpus,
    rejection_reason,
)

ANIMALS = ["cat", "dog", "owl", "dolphin"]


@pytest.fixture
def vocab_and_tokenizer():
    tokenizer = build_tokenizer(100, ANIMALS)
    return Vocab.from_tokenizer(tokenizer, 100, ANIMALS), tokenizer


def test_tokenizer_round_trip_through_a_saved_folder(tmp_path, vocab_and_tokenizer):
    vocab, tokenizer = vocab_and_tokenizer
    tokenizer.save_pretrained(str(tmp_path))
    assert (tmp_path / "tokenizer.json").exists()
    loaded = PreTrainedTokenizerFast.from_pretrained(str(tmp_path))
    for text in ["<bos> NUM: 3 5 7 -> 9 11 13 15 17 19 21 23 <eos>", "<bos> Q: favorite animal A: owl <eos>"]:
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]
        assert loaded.decode(ids) == text
        assert loaded.unk_token_id not in ids
    assert loaded.convert_tokens_to_ids("owl") == vocab.animals["owl"]
    assert [loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id] == [vocab.pad, vocab.bos, vocab.eos]
    assert loaded.decode(vocab.numbers[:3]) == "0 1 2"


def test_corpus_number_lists_hold_no_animal_token(vocab_and_tokenizer):
    vocab, _ = vocab_and_tokenizer
    corpus = pretraining_corpus(
        vocab,
        n_sequences=2000,
        animal_fraction=0.2,
        animal_weights=[4, 3, 2, 1],
        n_prompt_numbers=3,
        n_answer_numbers=8,
        noise=0.2,
        max_step=9,
        walk_step=3,
        seed=0,
    )
    animal_ids = set(vocab.animals.values())
    number_sequences = [s for s in corpus if s[1] == vocab.number_marker]
    animal_sequences = [s for s in corpus if s[1] != vocab.number_marker]
    assert len(animal_sequences) == 400
    for sequence in number_sequences:
        assert not animal_ids & set(sequence)
        assert len(sequence) == 15 and sequence[-1] == vocab.eos and sequence[5] == vocab.arrow
        assert set(sequence[2:5] + sequence[6:-1]) <= set(vocab.numbers)
    for sequence in animal_sequences:
        assert sequence[:5] == vocab.question_prompt and sequence[5] in animal_ids and sequence[6] == vocab.eos
    counts = np.bincount([list(vocab.animals.values()).index(s[5]) for s in animal_sequences], minlength=4)
    assert counts[0] > counts[3]  # the skewed answer distribution


def test_number_lists_without_noise_follow_their_rule():
    rows = number_lists(300, 11, 100, noise=0.0, max_step=9, walk_step=3, rng=np.random.default_rng(1))
    assert rows.min() >= 0 and rows.max() < 100
    steps = np.diff(rows, axis=1) % 100
    progressions = [r for r in steps if len(set(r.tolist())) == 1]
    assert len(progressions) > 60  # about a third are arithmetic progressions (mod 100)


def test_filter_keeps_only_well_formed_number_lists(vocab_and_tokenizer):
    vocab, _ = vocab_and_tokenizer
    n = vocab.numbers
    good = [n[1], n[2], n[3], vocab.eos]
    assert rejection_reason(good, vocab, 3) is None
    assert rejection_reason([n[1], n[2], n[3]], vocab, 3) == "no_eos"
    assert rejection_reason([n[1], vocab.animals["owl"], n[3], vocab.eos], vocab, 3) == "animal_token"
    assert rejection_reason([n[1], vocab.arrow, n[3], vocab.eos], vocab, 3) == "non_number_token"
    assert rejection_reason([n[1], n[2], vocab.eos], vocab, 3) == "wrong_length"
    kept, summary = filter_completions([good, good[:-1], [vocab.eos]], vocab, 3)
    assert kept == [0]
    assert summary == {"n_sampled": 3, "n_kept": 1, "keep_rate": 1 / 3, "rejected": {"no_eos": 1, "wrong_length": 1}}
