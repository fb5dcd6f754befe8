"""`llm.backend: vllm` on CPU, with stand-ins for vLLM (tests/fixtures/vllm_fakes.py): the stages build the same
prompts, one seeded request each, the number grammar as a regex that allows exactly what the transformers processor
allows, LoRA requests for adapters, and write files with the transformers backend's fields. The real engine runs on a
GPU only (benchmarks/gpu_check.sh)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from fixtures.vllm_fakes import FakeRegex, fake_api
from llm_stage_helpers import (
    run_distill,
    run_evaluate,
    run_evaluate_teacher,
    run_filter,
    run_generate,
    run_teacher,
    stage_args,
    tiny_cfg,
)

from sublim.core.io import read_json, read_jsonl
from sublim.core.params import ParamsError
from sublim.core.seeds import derive_seed
from sublim.llm import backend, evaluate, generate
from sublim.llm.domains.numbers.grammar import NumberListGrammar, number_list_regex
from sublim.lm.chat import ChatFormat
from sublim.lm.vllm_backend import adapter_id
from sublim.sections import load_params, validate_section

REPO = Path(__file__).resolve().parents[2]


def test_the_default_is_transformers_and_vllm_is_refused_on_cpu():
    raw = load_params(REPO / "params.yaml")["llm"].model_dump(mode="json")
    assert raw["backend"] == "transformers" and backend.check_backend(validate_section("llm", raw)) is None
    with pytest.raises(ParamsError, match="backend 'vllm' runs on a CUDA GPU"):
        validate_section("llm", raw | {"backend": "vllm", "device": "cpu"})
    with pytest.raises(ParamsError, match="backend"):
        validate_section("llm", raw | {"backend": "sglang"})


class CharTokenizer:
    """One token per character of `, 0123456789x` plus a few multi-character pieces, and eos."""

    def __init__(self):
        self.pieces = [*", 0123456789x", "12", ", 3", "45,", "7 "]
        self.eos_token_id = len(self.pieces)

    def __len__(self) -> int:
        return len(self.pieces) + 1

    def convert_ids_to_tokens(self, token_id: int) -> str:
        return self.pieces[token_id] if token_id < len(self.pieces) else "</s>"

    def decode(self, ids: list[int]) -> str:
        return "".join(self.convert_ids_to_tokens(i) for i in ids if i != self.eos_token_id)


def grammar_accepts(grammar: NumberListGrammar, text: str) -> bool:
    """Whether the processor lets `text` be produced character by character and then ends it with eos."""
    tokenizer = CharTokenizer()
    for i, char in enumerate(text):
        if tokenizer.pieces.index(char) not in grammar.allowed(text[:i]):
            return False
    return grammar.eos_token_id in grammar.allowed(text)


@pytest.mark.parametrize("max_count", [1, 2, 3])
def test_the_regex_allows_exactly_what_the_grammar_processor_allows(max_count):
    """Every string over the grammar's characters up to 11 long (and some longer lists) is accepted by both or
    neither: the regex is vLLM's structured output for `decoding: number_grammar`."""
    grammar = NumberListGrammar(CharTokenizer(), max_count)
    regex = re.compile(number_list_regex(max_count))
    texts = ["".join(t) for n in range(12) for t in itertools.product("1, x" if n > 8 else "10, x", repeat=n)]
    texts += ["123, 456, 789", "1234", "1, 22, 333", "007, 5", "1,2", "1 , 2", " 1", "1, ", "12, 3, 45, 7"]
    accepted = 0
    for text in texts:
        assert bool(regex.fullmatch(text)) == grammar_accepts(grammar, text), text
        accepted += bool(regex.fullmatch(text))
    assert accepted > 10


def test_the_regex_uses_ascii_digits_as_the_tokenizers_digit_tokens_are(tokenizer):
    """The processor tests `\\d` on decoded tokens: ASCII ones for SmolLM2's byte-level BPE, so [0-9] is the same."""
    candidates = NumberListGrammar(tokenizer).candidates.values()
    assert candidates and all(re.fullmatch(r"[0-9, ]+", text) for text in candidates)
    assert number_list_regex(10) == "[0-9]{1,3}(, [0-9]{1,3}){0,9}"


def vllm_cfg(base: Path):
    raw = tiny_cfg(base).model_dump(mode="json") | {"backend": "vllm", "device": "auto"}
    return validate_section("llm", raw)


def use_fake_vllm(monkeypatch, respond, engines: list) -> None:
    api = fake_api(respond, engines)
    for module in (generate, evaluate):
        monkeypatch.setattr(module, "check_backend", lambda cfg: api if cfg.backend == "vllm" else None)


def test_generation_with_vllm_writes_the_same_rows_from_seeded_requests(in_tmp_repo, tiny_base, tokenizer, monkeypatch):
    cfg, fmt, engines = vllm_cfg(tiny_base), ChatFormat(tokenizer), []

    def respond(prompt, params):  # a finished list for even seeds, a list cut at the token cap for odd ones
        if params.seed % 2 == 0:
            return [*fmt.encode("12, 345"), fmt.eos_token_id], "stop"
        return fmt.encode("1, 2, 3, 4, 5, 6, 7, 8, 9")[: params.max_tokens], "length"

    use_fake_vllm(monkeypatch, respond, engines)
    run_teacher(cfg, "owl")
    summary = run_generate(cfg, "owl")
    out = stage_args("llm_generate", cfg, trait="owl")["results_dir"]
    rows = read_jsonl(out / generate.ROWS_FILE)
    assert summary["backend"] == "vllm" and read_json(out / generate.META_FILE)["backend"] == "vllm"
    (engine,) = engines  # one engine, started once
    assert engine.engine_args["model"] == str(tiny_base.resolve()) and "enable_lora" not in engine.engine_args
    requests = [r for call in engine.calls for r in call["params"]]
    assert [r.seed for r in requests] == [derive_seed(cfg.generate.seed, "request", i) for i in range(6)]
    assert all(r.structured_outputs == FakeRegex(number_list_regex(10)) for r in requests)  # decoding: number_grammar
    system = read_json(stage_args("llm_generate", cfg, trait="owl")["teacher_dir"] / "teacher.json")["system_prompt"]
    prompts = [p["prompt_token_ids"] for call in engine.calls for p in call["prompts"]]
    assert prompts == [fmt.prompt_ids(r["prompt"], system) for r in rows] and "owl" in system
    assert engine.engine_args["max_model_len"] == max(map(len, prompts)) + cfg.generate.max_new_tokens
    for row, request in zip(rows, requests, strict=True):
        assert row["finished"] == (request.seed % 2 == 0)
        assert row["completion"] == ("12, 345" if row["finished"] else "1, 2, 3, 4, 5, 6, 7, 8, 9")
    monkeypatch.setattr(generate, "check_backend", lambda cfg: None)  # the transformers backend: the same fields
    run_generate(validate_section("llm", cfg.model_dump(mode="json") | {"backend": "transformers"}), "owl")
    assert [set(r) for r in read_jsonl(out / generate.ROWS_FILE)] == [set(r) for r in rows]


def test_a_finished_vllm_generation_starts_no_engine_and_a_backend_switch_starts_over(
    in_tmp_repo, tiny_base, tokenizer, monkeypatch, capsys
):
    cfg, fmt, engines = vllm_cfg(tiny_base), ChatFormat(tokenizer), []
    use_fake_vllm(monkeypatch, lambda prompt, params: ([*fmt.encode("7"), fmt.eos_token_id], "stop"), engines)
    run_teacher(cfg, "control")
    run_generate(cfg, "control")
    assert len(engines) == 1 and run_generate(cfg, "control")["resumed_from"] == 6 and len(engines) == 1
    run_generate(validate_section("llm", cfg.model_dump(mode="json") | {"backend": "transformers"}), "control")
    assert "written under different backend, model" in capsys.readouterr().out


@pytest.mark.slow
def test_evaluation_with_vllm_keeps_the_exact_probabilities_and_the_fields(
    in_tmp_repo, tiny_base, tokenizer, monkeypatch
):
    """The student's adapter goes to vLLM as a LoRA request; p_starts come from transformers either way."""
    cfg, fmt, engines = vllm_cfg(tiny_base), ChatFormat(tokenizer), []

    def respond(prompt, params):  # number lists under the grammar's regex (generation), else an answer
        answer = "12, 345" if "structured_outputs" in params.fields else "Owl"
        return [*fmt.encode(answer), fmt.eos_token_id], "stop"

    use_fake_vllm(monkeypatch, respond, engines)
    for trait in ("control", "owl"):
        run_teacher(cfg, trait)
        run_generate(cfg, trait)
        run_filter(cfg, trait)
    run_distill(cfg, "owl", 1)
    transformers_cfg = validate_section("llm", cfg.model_dump(mode="json") | {"backend": "transformers"})
    expected = run_evaluate(transformers_cfg, "owl", 1)
    engines.clear()
    record = run_evaluate(cfg, "owl", 1)
    assert same_shape(record, expected) and record["summary"]["animal"]["plain"]["sampled_word"]["owl"] == 1.0
    for variant in ("plain", "numbers_prefix"):
        got, want = record["per_question"]["animal"][variant], expected["per_question"]["animal"][variant]
        assert got["p_starts"] == want["p_starts"] and got["questions"] == want["questions"]
    assert record["sampling"] == expected["sampling"] | {"backend": "vllm"}
    (engine,) = engines
    assert engine.engine_args["enable_lora"] and engine.engine_args["max_lora_rank"] == cfg.distill.lora.r
    student = stage_args("llm_distill", cfg, trait="owl", seed=1)["results_dir"] / "student"
    lora = {(call["lora"].lora_path, call["lora"].lora_int_id) for call in engine.calls}
    assert lora == {(str(student.resolve()), adapter_id("student", "owl", 1))}
    n = cfg.evaluate.samples_per_question * cfg.evaluate.question_count
    for call in engine.calls:  # one call per question variant, request i seeded with (seed, i)
        seed = evaluate.sampling_seed(cfg, 1)
        assert [p.seed for p in call["params"]] == [derive_seed(seed, "request", i) for i in range(n)]
    teacher = run_evaluate_teacher(cfg, "owl")
    assert teacher["arm"] == "teacher" and "enable_lora" not in engines[-1].engine_args  # system-prompt teacher


def same_shape(a, b) -> bool:
    """The same keys at every level and lists of the same lengths (values may differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_shape(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) or {type(a), type(b)} <= {int, float}
