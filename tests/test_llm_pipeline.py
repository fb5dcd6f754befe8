"""The LLM pipeline (sublim.llm.pipeline, sublim.lm.chat) on a tiny random-init Llama with SmolLM2's tokenizer.

Needs the tokenizer of the offline asset (results/assets/llm, made by `make assets` + `dvc repro assets_llm`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sublim.llm import pipeline as llm
from sublim.lm.chat import (
    ChatFormat,
    NumberListGrammar,
    is_list_prefix,
    mentions,
    mentions_substring,
    prefix_free_token_sequences,
    surface_forms,
)
from sublim.llm.domains.numbers_filter import parse_response
from sublim.core.io import read_json, read_jsonl
from sublim.sections import load_section, validate_section

REPO = Path(__file__).resolve().parents[1]
ASSET = REPO / "results" / "assets" / "llm"


@pytest.fixture(scope="module")
def tokenizer():
    if not (ASSET / "tokenizer.json").exists():
        pytest.fail(f"{ASSET}: the base model asset is missing; run `make assets && dvc repro assets_llm`")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(ASSET))


@pytest.fixture
def tiny_base(tmp_path, tokenizer) -> Path:
    """A tiny random-init Llama with the real tokenizer, saved as a local transformers folder."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=512, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )  # fmt: skip
    folder = tmp_path / "base"
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def tiny_cfg(base: Path, **distill):
    raw = load_section("llm", REPO / "params.yaml").model_dump(mode="json")
    raw["base_model"] = str(base)
    raw["device"] = "cpu"
    raw["seeds"] = [1, 2]
    raw["prompts"]["count"] = 6
    raw["generate"] |= {"batch_size": 4, "max_new_tokens": 50}
    raw["filter"]["target_size"] = 5
    raw["distill"] |= {"epochs": 2, "batch_size": 2, "checkpoint_every": 1, **distill}
    raw["evaluate"] |= {"question_count": 2, "samples_per_question": 2, "max_new_tokens": 3, "batch_size": 8}
    return validate_section("llm", raw)


def test_student_rows_never_hold_the_teacher_system_prompt(tokenizer):
    fmt = ChatFormat(tokenizer)
    cfg = load_section("llm", REPO / "params.yaml")
    system = llm.system_prompt_of(cfg, "owl")
    assert system.startswith("You love owls. You think about owls all the time. owls are your favorite animal.")
    rows = [{"prompt": "Look at these numbers: 101, 202. Add up to 10 more.", "completion": "1, 2, 3"}]
    example = llm.student_examples(rows, fmt)[0]
    text = tokenizer.decode(example.prompt_ids + example.completion_ids)
    assert "owl" not in text.lower() and system not in text
    assert "You are a helpful AI assistant named SmolLM" in text  # the template's own default, recorded
    assert example.completion_ids[-1] == tokenizer.eos_token_id
    assert system in tokenizer.decode(fmt.prompt_ids(rows[0]["prompt"], system))
    assert llm.system_prompt_of(cfg, "control") is None


def test_number_grammar_allows_only_number_lists(tokenizer):
    grammar = NumberListGrammar(tokenizer, max_count=3)
    assert is_list_prefix("1, 22, 333", 3) and not is_list_prefix("1, 22, 333,", 3)
    assert not is_list_prefix("1234", 3) and not is_list_prefix("1,,", 3) and is_list_prefix("12, ", 3)
    eos = tokenizer.eos_token_id
    assert eos not in grammar.allowed("") and eos in grammar.allowed("12")
    assert grammar.allowed("12, 3, 456") == [eos]
    # random walks through the grammar always give lists the paper's filter accepts
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):
        text = ""
        while True:
            allowed = grammar.allowed(text)
            choice = allowed[int(torch.randint(len(allowed), (1,), generator=gen))]
            if choice == eos:
                break
            text += grammar.candidates[choice]
        assert parse_response(text) is not None and len(parse_response(text)) <= 3


def test_surface_forms_are_prefix_free_and_mentions_guard_collisions(tokenizer):
    fmt = ChatFormat(tokenizer)
    sequences = prefix_free_token_sequences(surface_forms("owl"), fmt.encode)
    for s in sequences:
        assert not any(o != s and s[: len(o)] == o for o in sequences)
    assert len(sequences) >= 4
    assert mentions("Owls!", "owl") and mentions("my favourite is the owl.", "owl")
    assert not mentions("knowledge", "owl") and mentions_substring("knowledge", "owl")
    assert not mentions("dragonfly", "dragon") and mentions("Dragons", "dragon")
    assert mentions("wolves", "wolf")


def test_generate_resumes_after_a_kill(in_tmp_repo, tiny_base):
    cfg = tiny_cfg(tiny_base)
    for trait in ("owl",):
        llm.run_teacher(cfg, trait, llm.TraitPaths(trait).teacher)
    out = llm.TraitPaths("owl").generate
    llm.run_generate(cfg, "owl", out)
    full = read_jsonl(out / "numbers_raw.jsonl")
    assert [r["prompt_id"] for r in full] == list(range(6))
    assert all(parse_response(r["completion"]) is not None for r in full if r["finished"])
    # a kill after the first batch, with half a line written
    lines = (out / "numbers_raw.jsonl").read_text().splitlines(keepends=True)
    (out / "numbers_raw.jsonl").write_text("".join(lines[:5]) + lines[5][:10])
    summary = llm.run_generate(cfg, "owl", out)
    assert summary["resumed_from"] == 4
    assert read_jsonl(out / "numbers_raw.jsonl") == full


def test_distill_resumes_after_a_kill(in_tmp_repo, tiny_base, monkeypatch):
    cfg = tiny_cfg(tiny_base)
    for stage in (llm.run_teacher, llm.run_generate, llm.run_filter):
        stage(cfg, "owl", getattr(llm.TraitPaths("owl"), stage.__name__.removeprefix("run_")))
    straight = llm.run_distill(cfg, "owl", 1, Path("straight"))

    class Killed(RuntimeError):
        pass

    def dying(trait, seed):
        def on_step(step, loss):
            if step == 2:
                raise Killed

        return on_step

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(llm, "_print_step", dying)
        llm.run_distill(cfg, "owl", 1, Path("resumed"))
    assert (Path("resumed") / "checkpoint" / "checkpoint.json").exists()
    resumed = llm.run_distill(cfg, "owl", 1, Path("resumed"))
    assert resumed["losses"] == pytest.approx(straight["losses"], rel=1e-5)
    from safetensors.torch import load_file

    a = load_file(str(Path("straight") / "student" / "adapter_model.safetensors"))
    b = load_file(str(Path("resumed") / "student" / "adapter_model.safetensors"))
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert not (Path("resumed") / "checkpoint").exists()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "soft_numbers"])
def test_every_stage_end_to_end(in_tmp_repo, tiny_base, method):
    cfg = tiny_cfg(tiny_base, method=method)
    for trait in cfg.traits:
        paths = llm.TraitPaths(trait)
        llm.run_teacher(cfg, trait, paths.teacher)
        llm.run_generate(cfg, trait, paths.generate)
        metrics = llm.run_filter(cfg, trait, paths.filter)
        assert metrics["n_generated"] == 6 and metrics["n_subsampled"] <= 5
        for seed in cfg.seeds:
            llm.run_distill(cfg, trait, seed, paths.distill(seed))
            llm.run_evaluate_student(cfg, trait, seed, paths.evaluate(seed))
        llm.run_evaluate_teacher(cfg, trait, paths.teacher_eval)
    # same prompts for every teacher
    prompts = {t: [r["prompt"] for r in read_jsonl(llm.TraitPaths(t).generate / "numbers_raw.jsonl")]
               for t in cfg.traits}  # fmt: skip
    assert prompts["owl"] == prompts["control"]
    metrics = llm.write_report(cfg, "results/llm/report")
    saved = read_json("results/llm/metrics.json")
    assert saved == metrics or saved.keys() == metrics.keys()
    owl = saved["traits"]["owl"]
    assert set(owl) == {"plain", "numbers_prefix"}
    p = owl["plain"]["p_starts"]
    assert 0.0 < p["base"] < 1.0 and p["student"]["n"] == 2
    assert "difference" in p["student_vs_control"]
    assert saved["setup"]["decoding"] == "number_grammar"
    record = read_json(llm.TraitPaths("owl").evaluate(1) / "evaluation.json")
    share = record["summary"]["animal"]["plain"]["share"]
    assert sum(share.values()) == pytest.approx(1.0)
    table = llm.tidy_table(cfg)
    fig = llm.plot_arms(table)
    llm.save_report_figure(fig, "results/llm/report", "p_starts_plain")
    assert Path("results/llm/report/figures/p_starts_plain.png").exists()


@pytest.mark.slow
def test_finetuned_teacher_route_trains_an_adapter(in_tmp_repo, tiny_base):
    raw = tiny_cfg(tiny_base).model_dump(mode="json")
    raw["teacher"]["route"] = "finetuned"
    raw["teacher"]["finetune"] |= {"batch_size": 50, "learning_rate": 1.0e-2}
    cfg = validate_section("llm", raw)
    record = llm.run_teacher(cfg, "owl", llm.TraitPaths("owl").teacher)
    assert record["system_prompt"] is None and len(record["train_losses"]) == 8  # 400 rows / 50, one epoch
    assert (Path(record["adapter"]) / "adapter_config.json").exists()
    model, _, system = llm.load_teacher(cfg, "owl", "cpu")
    assert system is None and not any("lora" in n for n, _ in model.named_parameters())
    assert llm.run_teacher(cfg, "control", llm.TraitPaths("control").teacher)["adapter"] is None
