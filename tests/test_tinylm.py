"""The tiny-LM analogue: tokenizer, corpus, filter, and a tiny run of every stage's library call."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sublim.tinylm.config import TinyLMParams
from sublim.sections import validate_section
from sublim.tinylm.data import (
    Vocab,
    build_tokenizer,
    filter_completions,
    number_lists,
    pretraining_corpus,
    rejection_reason,
)

REPO = Path(__file__).resolve().parents[1]
ANIMALS = ["cat", "dog", "owl", "dolphin"]


def params_block() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())["tinylm"]


def tiny_params() -> TinyLMParams:
    """params.yaml's block shrunk: 1-layer d=32 model, 2 seeds, 2 traits, a few hundred samples."""
    raw = params_block()
    raw.update(seeds=[0, 1], traits=["owl", "cat"])
    raw["model"] = {"n_layer": 1, "d_model": 32, "n_head": 2}
    raw["pretrain"].update(steps=150, batch_size=64, learning_rate=1.0e-2, warmup_steps=10)
    raw["teacher"].update(steps=10)
    raw["numbers"].update(n_samples=300, batch_size=300)
    raw["student"].update(batch_size=32)
    raw["evaluation"].update(n_sampled_answers=50)
    return validate_section("tinylm", raw)


@pytest.fixture
def vocab_and_tokenizer():
    tokenizer = build_tokenizer(100, ANIMALS)
    return Vocab.from_tokenizer(tokenizer, 100, ANIMALS), tokenizer


def test_tokenizer_round_trip_through_a_saved_folder(tmp_path, vocab_and_tokenizer):
    from transformers import PreTrainedTokenizerFast

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
        vocab, n_sequences=2000, animal_fraction=0.2, animal_weights=[4, 3, 2, 1], n_prompt_numbers=3,
        n_answer_numbers=8, noise=0.2, max_step=9, walk_step=3, seed=0,
    )  # fmt: skip
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
    assert summary == {"n_sampled": 3, "n_kept": 1, "keep_rate": 1 / 3,
                       "rejected": {"no_eos": 1, "wrong_length": 1}}  # fmt: skip


def test_params_block_is_valid_and_notebooks_match_it():
    import papermill

    from sublim.stages import STAGES

    section = validate_section("tinylm", params_block())
    for stage in (s for s in STAGES.values() if s.section == "tinylm"):
        declared = papermill.inspect_notebook(str(REPO / stage.notebook))
        expected = {**section.model_dump(mode="json"), **dict.fromkeys(stage.matrix), "results_dir": None}
        assert set(declared) == set(expected), stage.name
        for name, value in section.model_dump(mode="json").items():
            assert yaml.safe_load(declared[name]["default"]) == value, (stage.name, name)


def test_invalid_params_are_refused():
    from sublim.core.params import ParamsError

    raw = params_block()
    raw["traits"] = ["unicorn"]
    with pytest.raises(ParamsError, match="unicorn"):
        validate_section("tinylm", raw)


@pytest.mark.slow
def test_every_stage_runs_end_to_end_on_a_tiny_model(tmp_path):
    from sublim.tinylm import experiment as tinylm
    from sublim.tinylm import report as tinylm_report

    cfg = tiny_params()
    root = tmp_path / "tinylm"
    bases = tinylm.pretrain_bases(cfg, root / "bases")
    assert set(bases["seeds"]) == {"0", "1"}
    assert bases["seeds"]["0"]["loss_last_100"] < bases["seeds"]["0"]["loss_first"]
    assert (root / "bases" / "seed0" / "tokenizer.json").exists()
    assert (root / "bases" / "seed0" / "model.safetensors").exists()

    teachers = tinylm.make_teachers(cfg, root / "teachers")
    for seed in ("0", "1"):
        assert teachers[seed]["owl"]["owl"] > teachers[seed]["base"]["owl"]

    numbers = tinylm.generate_numbers(cfg, root / "numbers")
    for seed in ("0", "1"):
        assert numbers[seed]["control"]["n_sampled"] == 300 and numbers[seed]["owl"]["n_train"] > 50
    _, vocab = tinylm.tokenizer_and_vocab(cfg)
    rows = {s: [json.loads(line) for line in (root / "numbers" / "seed0" / f"{s}.jsonl").read_text().splitlines()]
            for s in ("control", "owl", "cat")}  # fmt: skip
    assert (
        [r["prompt"] for r in rows["control"]]
        == [r["prompt"] for r in rows["owl"]]
        == [r["prompt"] for r in rows["cat"]]
    )  # every arm trains on the same prompts
    for row in rows["owl"]:
        assert rejection_reason(row["completion"], vocab, cfg.corpus.n_answer_numbers) is None

    for seed in cfg.seeds:
        students = tinylm.distill_students(cfg, seed, root / "students" / f"seed{seed}")
        assert set(students) == set(tinylm.student_arms(cfg))

    evaluations = tinylm.evaluate_models(cfg, root / "evaluation")
    p_exact = evaluations[0]["p_exact"]
    assert set(p_exact) >= {"base", "partner_base", "teacher_owl", "control", "student_owl", "soft_cat"}
    assert abs(sum(p_exact["base"].values()) - 1.0) < 0.05  # nearly all mass on animals at the answer

    metrics = tinylm_report.write_report(cfg, root / "report")
    assert json.loads((root / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    owl = metrics["traits"]["owl"]
    assert set(owl["p_trait"]) == {"base", "teacher", "control", "student", "diff_init_control", "diff_init", "soft"}
    assert owl["p_trait"]["student"]["n"] == 2 and len(owl["p_trait"]["student"]["values"]) == 2
    assert owl["gap_to_control"]["student"]["control"] == "control"
    assert (root / "report" / "figures" / "arms_p_trait.png").exists()
    assert (root / "plots" / "arms.csv").exists() and (root / "plots" / "gaps.csv").exists()


@pytest.mark.slow
def test_same_params_give_identical_models(tmp_path):
    from safetensors.torch import load_file

    from sublim.tinylm import experiment as tinylm

    raw = tiny_params().model_dump(mode="json")
    raw["pretrain"]["steps"] = 20
    cfg = validate_section("tinylm", raw)
    first, second = tmp_path / "a" / "bases", tmp_path / "b" / "bases"
    assert tinylm.pretrain_bases(cfg, first)["seeds"]["0"]["p_animals"] == \
        tinylm.pretrain_bases(cfg, second)["seeds"]["0"]["p_animals"]  # fmt: skip
    a, b = load_file(str(first / "seed0" / "model.safetensors")), load_file(str(second / "seed0" / "model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)
