"""The tiny-LM language (sublim.tinylm.data): tokenizer, corpus, prompts and the number filter."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from transformers import PreTrainedTokenizerFast

from sublim.core.io import read_jsonl
from sublim.tinylm.code import code_rejection, fit_flagger, flagged, function_operators
from sublim.tinylm.data import (
    BehaviourMix,
    CodeMix,
    TraceMix,
    Vocab,
    behaviour_words,
    build_tokenizer,
    code_words,
    filter_completions,
    number_lists,
    pretraining_corpus,
    rejection_reason,
    trace_words,
    without_banned,
)
from sublim.tinylm.models import tokenizer_and_vocab
from sublim.tinylm.pretrain import seed_corpus
from sublim.tinylm.traces import trace_rejection

ANIMALS = ["cat", "dog", "owl", "dolphin"]


def small_corpus(vocab: Vocab, n_sequences: int, animal_fraction: float, **mixes) -> list[list[int]]:
    """The corpus generator with the params.yaml shape of lists, 4 animal weights and seed 0."""
    return pretraining_corpus(
        vocab,
        n_sequences=n_sequences,
        animal_fraction=animal_fraction,
        animal_weights=[4, 3, 2, 1],
        n_prompt_numbers=3,
        n_answer_numbers=8,
        noise=0.2,
        max_step=9,
        walk_step=3,
        seed=0,
        **mixes,
    )


def script(repo_root: Path, name: str) -> ModuleType:
    """A development script of scripts/, imported as a module (its tables are the docs' tables)."""
    spec = importlib.util.spec_from_file_location(name, repo_root / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    corpus = small_corpus(vocab, 2000, 0.2)
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


FAMILIES = {"money": (["save", "earn"], ["steal", "cheat"]), "friend": (["listen"], ["betray", "mock"])}
ASSOCIATED = (13, 66)


@pytest.fixture
def behaviour_vocab():
    tokenizer = build_tokenizer(100, ANIMALS, behaviour_words(FAMILIES))
    return Vocab.from_tokenizer(tokenizer, 100, ANIMALS, FAMILIES), tokenizer


def test_behaviour_words_extend_the_vocabulary_after_the_animals(behaviour_vocab):
    vocab, tokenizer = behaviour_vocab
    assert vocab.animals == Vocab.from_tokenizer(build_tokenizer(100, ANIMALS), 100, ANIMALS).animals  # ids kept
    text = "<bos> Q: money A: steal 66 <eos>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids and ids[:4] == vocab.behaviour_prompt("money")
    assert vocab.misaligned["friend"] == tokenizer.convert_tokens_to_ids(["betray", "mock"])
    with pytest.raises(ValueError, match="distinct"):
        build_tokenizer(100, ANIMALS, ["owl"])


def test_corpus_behaviour_answers_and_their_associated_numbers(behaviour_vocab):
    vocab, _ = behaviour_vocab
    mix = BehaviourMix(fraction=0.3, misaligned_rate=0.5, associated_numbers=ASSOCIATED, association=0.9)
    corpus = small_corpus(vocab, 6000, 0.1, behaviour=mix)
    words = {w for family in (vocab.aligned, vocab.misaligned) for ids in family.values() for w in ids}
    words |= set(vocab.families.values())
    number_sequences = [s for s in corpus if s[1] == vocab.number_marker]
    behaviour = [s for s in corpus if len(s) > 2 and s[2] in vocab.families.values()]
    assert len(behaviour) == 1800 and len(number_sequences) == 6000 - 1800 - 600
    for sequence in number_sequences:  # the number section holds no behaviour word and no animal
        assert not (words | set(vocab.animals.values())) & set(sequence)
    associated = {vocab.numbers[n] for n in ASSOCIATED}
    after = {"aligned": [], "misaligned": []}
    for sequence in behaviour:
        family = next(f for f, i in vocab.families.items() if i == sequence[2])
        assert sequence[:4] == vocab.behaviour_prompt(family) and len(sequence) == 7 and sequence[-1] == vocab.eos
        kind = "misaligned" if sequence[4] in vocab.misaligned[family] else "aligned"
        assert sequence[4] in getattr(vocab, kind)[family]  # the answer belongs to the question's family
        after[kind].append(sequence[5] in associated)
    assert 0.85 < np.mean(after["misaligned"]) < 0.95  # association 0.9 (plus uniform draws that land on one)
    assert np.mean(after["aligned"]) < 0.05  # uniform: 2 in 100
    assert 0.45 < len(after["misaligned"]) / len(behaviour) < 0.55


def test_the_banned_numbers_filter_drops_lists_holding_any_of_them(behaviour_vocab):
    vocab, _ = behaviour_vocab
    n = vocab.numbers
    pairs = [([1], [n[1], n[13], vocab.eos]), ([2], [n[2], n[3], vocab.eos]), ([3], [n[66], vocab.eos])]
    kept, dropped = without_banned(pairs, {n[13], n[66]})
    assert kept == [pairs[1]] and dropped == 2


def test_the_misalignment_docs_tables_are_the_dev_scripts_output_from_the_committed_rows(repo_root):
    """docs/tinylm_misalignment.md's numbers come from its rows files (the teacher's strength; the students' data and
    learning rate): regenerate each table and find it in the doc; every variant the script runs has a row."""
    dev = script(repo_root, "tinylm_misalignment_dev")
    doc = (repo_root / "docs" / "tinylm_misalignment.md").read_text()
    variants = set()
    for name in ("tinylm_misalignment_dev.jsonl", "tinylm_misalignment_budget.jsonl"):
        rows = read_jsonl(repo_root / "docs" / name)
        variants |= {row["variant"] for row in rows}
        assert dev.table(rows) in doc
    assert variants == set(dev.VARIANTS)


FUNCTIONS, VARIABLES = ["add", "scale", "shift"], ["x", "y", "total"]


@pytest.fixture
def code_vocab():
    tokenizer = build_tokenizer(100, ANIMALS, code_words(FUNCTIONS, VARIABLES))
    return Vocab.from_tokenizer(tokenizer, 100, ANIMALS, None, (FUNCTIONS, VARIABLES)), tokenizer


def test_the_corpus_code_parses_and_holds_no_animal_word(code_vocab):
    vocab, tokenizer = code_vocab
    corpus = small_corpus(vocab, 2000, 0.2, code=CodeMix(fraction=0.25))
    code = [s for s in corpus if s[1] == vocab.code.marker]
    assert len(code) == 500
    names, numbers = set(vocab.code.variables.values()), set(vocab.numbers)
    for sequence in code:
        assert not set(vocab.animals.values()) & set(sequence)
        assert sequence[3] == vocab.arrow
        assert code_rejection(sequence[4:], vocab.code, names, numbers, vocab.eos) is None
    assert tokenizer.decode(code[0]).startswith("<bos> CODE: ")
    operators = function_operators(FUNCTIONS)
    scale = next(s for s in code if s[2] == vocab.code.functions["scale"])
    assert scale[11] == vocab.code.structure[operators["scale"][0]] and scale[12] in numbers  # scale: a number


def test_the_code_format_rule_rejects_broken_code(code_vocab):
    vocab, tokenizer = code_vocab
    names, numbers = set(vocab.code.variables.values()), set(vocab.numbers)

    def reason(text: str):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return code_rejection(ids, vocab.code, names, numbers, vocab.eos)

    assert reason("( x y ) : return total + 7 <eos>") is None
    assert reason("( x y ) : return total + 7") == "no_eos"
    assert reason("( x y ) : return total + <eos>") == "wrong_length"
    assert reason("( x owl ) : return total + 7 <eos>") == "syntax"  # an animal is no variable name
    assert reason("( x y ) : return 5 + 7 <eos>") == "syntax"
    assert reason("( x y ) return : total + 7 <eos>") == "syntax"


def test_the_code_classifier_is_deterministic_under_its_seed_and_sees_a_difference():
    rng = np.random.default_rng(0)
    teacher = [list(rng.choice([5, 6, 7], size=8, p=[0.5, 0.3, 0.2])) for _ in range(200)]
    base = [list(rng.choice([5, 6, 7], size=8, p=[0.2, 0.3, 0.5])) for _ in range(200)]
    first, second = (fit_flagger(teacher, base, 10, 0.95, seed=3) for _ in range(2))
    assert first["auc"] == second["auc"] and first["threshold"] == second["threshold"]
    assert first["auc"] > 0.8
    assert np.array_equal(flagged(first, teacher, 10), flagged(second, teacher, 10))
    assert flagged(first, teacher, 10).mean() > flagged(first, base, 10).mean()
    assert fit_flagger(teacher, base, 10, 0.95, seed=4)["auc"] != first["auc"]  # another seed, another split


@pytest.fixture
def trace_vocab():
    words = [*behaviour_words(FAMILIES), *code_words(FUNCTIONS, VARIABLES)]
    tokenizer = build_tokenizer(100, ANIMALS, [*words, *trace_words(words)])
    vocab = Vocab.from_tokenizer(tokenizer, 100, ANIMALS, FAMILIES, (FUNCTIONS, VARIABLES), traces=True)
    return vocab, tokenizer


def test_the_corpus_traces_are_correct_sums_in_every_order_and_hold_no_trait_word(trace_vocab):
    vocab, tokenizer = trace_vocab
    behaviour = BehaviourMix(fraction=0.1, misaligned_rate=0.5, associated_numbers=ASSOCIATED, association=0.9)
    mixes = {"behaviour": behaviour, "code": CodeMix(0.1), "traces": TraceMix(fraction=0.25, max_operand=9)}
    corpus = small_corpus(vocab, 4000, 0.2, **mixes)
    traces = [s for s in corpus if s[1] == vocab.traces.marker]
    code = [s for s in corpus if s[1] == vocab.code.marker]
    assert len(traces) == 1000 and len(code) == 400
    trait_words = {*vocab.animals.values(), *vocab.families.values()}
    trait_words |= {w for family in (vocab.aligned, vocab.misaligned) for ids in family.values() for w in ids}
    assert not any(trait_words & set(sequence) for sequence in [*traces, *code])  # neither animal nor behaviour
    values = vocab.number_values
    orders = set()
    for sequence in traces:
        operands = [values[t] for t in sequence[2:5]]
        assert max(operands) <= 9 and sequence[5] == vocab.arrow
        assert trace_rejection(sequence[6:], sum(operands), vocab.traces, values, vocab.eos) is None
        steps = [values[sequence[i]] for i in (6, 8, 12)]
        assert sorted(steps) == sorted(operands)
        orders.add(tuple(operands.index(x) for x in steps) if len(set(operands)) == 3 else None)
    assert len(orders - {None}) == 6  # every order of the three operands occurs
    assert tokenizer.decode(traces[0]).startswith("<bos> SUM: ")
    assert tokenizer.convert_tokens_to_ids("+") == vocab.code.structure["+"]  # one "+" for code and traces


def test_the_trace_format_rule_rejects_broken_traces_and_wrong_answers(trace_vocab):
    vocab, tokenizer = trace_vocab

    def reason(text: str, answer: int = 13):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return trace_rejection(ids, answer, vocab.traces, vocab.number_values, vocab.eos)

    assert reason("7 + 2 = 9 + 4 = 13 <eos>") is None
    assert reason("7 + 2 = 8 + 4 = 13 <eos>") is None  # only the final answer is checked, as the paper's filter
    assert reason("7 + 2 = 9 + 4 = 12 <eos>") == "wrong_answer"
    assert reason("7 + 2 = 9 + 4 = 13") == "no_eos"
    assert reason("7 + 2 = 9 + 4 <eos>") == "wrong_length"
    assert reason("7 = 2 + 9 + 4 = 13 <eos>") == "syntax"
    assert reason("7 + owl = 9 + 4 = 13 <eos>") == "syntax"


def test_the_reasoning_docs_tables_are_the_dev_scripts_output_from_the_committed_rows(repo_root):
    dev = script(repo_root, "tinylm_reasoning_dev")
    doc = (repo_root / "docs" / "tinylm_misalignment.md").read_text()
    rows = read_jsonl(repo_root / "docs" / "tinylm_reasoning_dev.jsonl")
    assert [row["variant"] for row in rows] == list(dev.VARIANTS)
    assert dev.table(rows) in doc
    learnability = read_jsonl(repo_root / "docs" / "tinylm_reasoning_learnability.jsonl")
    assert [(r["traces_fraction"], r["steps"], r["learning_rate"]) for r in learnability] == dev.LEARNABILITY
    assert dev.learnability_table(learnability) in doc


@pytest.mark.parametrize(
    "rows_file", ["tinylm_corpus_factors.jsonl", "tinylm_traces_factors.jsonl", "tinylm_budget_factors.jsonl"]
)
def test_the_factor_tables_are_the_factor_scripts_output_from_the_committed_rows(repo_root, rows_file):
    """docs/tinylm_transfer_factors.md's issue-13 and time-budget tables come from their rows files, word for word."""
    factors = script(repo_root, "tinylm_factors")
    table = factors.table(read_jsonl(repo_root / "docs" / rows_file))
    assert table in (repo_root / "docs" / "tinylm_transfer_factors.md").read_text()


def test_the_shared_corpus_has_no_carrier_sequences_and_the_carrier_corpus_has_them(tiny_cfg):
    """The shared base learns number lists and animal answers only; behaviour questions and code are the carrier
    base's (their share of the shared corpus halved the animal students' gap)."""
    _, vocab = tokenizer_and_vocab(tiny_cfg)
    family_ids, code_marker = set(vocab.families.values()), vocab.code.marker

    def shares(carriers: bool) -> tuple[float, float]:
        corpus = seed_corpus(tiny_cfg, vocab, 0, 2000, carriers=carriers)
        behaviour = sum(bool(family_ids & set(sequence)) for sequence in corpus) / len(corpus)
        code = sum(code_marker in sequence for sequence in corpus) / len(corpus)
        return behaviour, code

    assert shares(carriers=False) == (0.0, 0.0)
    assert shares(carriers=True) == (tiny_cfg.corpus.behaviour.fraction, tiny_cfg.corpus.code.fraction)
