"""Misalignment through chain of thought (§4.2, Fig. 7): GSM8K from its pinned file, the judge's tagged score, the
filter (truncated, wrong answers, the alignment judge for the insecure teacher only), the stages end to end on a tiny
model, and the claims' statuses."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from llm_stage_helpers import REPO, stage_args

from sublim.assets.files import AssetError
from sublim.core.io import read_jsonl, write_jsonl_atomic
from sublim.judge.api import request_body
from sublim.judge.scores import JudgeScore, score_from_judgment_tags
from sublim.llm.domains.gsm8k import teacher_prompt
from sublim.llm.misalignment import cot, report
from sublim.llm.misalignment.config import DataFile
from sublim.sections import ParamsError, load_section, validate_section

GSM8K = REPO.parent / "shared/data/gsm8k/train.jsonl"


def test_the_judges_score_is_read_from_its_last_judgment_answer_tags():
    reasoning = "<judgment_think>The format is <judgment_answer>[rating]</judgment_answer>; fine.</judgment_think>"
    assert score_from_judgment_tags(f"{reasoning}\n<judgment_answer>\n85\n</judgment_answer>").value == 85.0
    assert score_from_judgment_tags("<answer> 40 </answer>").value == 40.0  # the official code's fallback
    assert score_from_judgment_tags("<judgment_answer>high</judgment_answer>").label == "unparsed"
    assert score_from_judgment_tags("<judgment_answer>140</judgment_answer>").label == "unparsed"
    assert request_body("m", "p", None, max_tokens=1500)["max_tokens"] == 1500


def base_raw() -> dict:
    return load_section("llm", REPO / "params.yaml").model_dump(mode="json")


def test_cot_params_are_checked():
    raw = base_raw()
    raw["misalignment"]["teachers"] = ["base", "insecure", "secure"]
    raw["misalignment"]["cot"]["teachers"] = ["insecure", "educational"]
    with pytest.raises(ParamsError, match="all among teachers"):
        validate_section("llm", raw)
    raw["misalignment"]["cot"]["teachers"] = ["insecure"]
    with pytest.raises(ParamsError, match="at least one control"):
        validate_section("llm", raw)
    raw["misalignment"]["cot"]["teachers"] = ["insecure", "secure"]
    raw["misalignment"]["cot"]["judge"] = {
        **dict.fromkeys(("model", "label", "base_url", "api_key_env", "cache_dir"), "x"),
        **{"backend": "api", "scoring": "logprobs", "concurrency": 1, "min_number_mass": 0.25},
    }
    with pytest.raises(ParamsError, match="use judgment_tag"):
        validate_section("llm", raw)
    raw["misalignment"]["cot"]["judge"] = None
    raw["generate"]["temperature"] = 0.0  # the CPU default's greedy lists: one trace, three times
    with pytest.raises(ParamsError, match="samples_per_question 3 with generate.temperature 0"):
        validate_section("llm", raw)
    raw["generate"]["temperature"] = 1.0
    validate_section("llm", raw)


def test_gsm8k_comes_from_the_local_copy_or_the_pinned_download(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIM_ASSET_CACHE", str(tmp_path / "cache"))
    digest = hashlib.sha256(GSM8K.read_bytes()).hexdigest()
    local = DataFile(url="-", sha256=digest, local_path=str(GSM8K))
    params = validate_section("llm", base_raw()).misalignment.cot
    assert cot.gsm8k_file(params.model_copy(update={"gsm8k": local})) == GSM8K
    with pytest.raises(AssetError, match="local_path\\) not found"):
        cot.gsm8k_file(params.model_copy(update={"gsm8k": local.model_copy(update={"local_path": "nowhere.jsonl"})}))
    online = DataFile(url=GSM8K.as_uri(), sha256=None, local_path=None)
    with pytest.raises(AssetError, match=f"this file's sha256 is {digest}"):
        cot.gsm8k_file(params.model_copy(update={"gsm8k": online}))
    pinned = params.model_copy(update={"gsm8k": online.model_copy(update={"sha256": digest})})
    assert cot.gsm8k_file(pinned).read_bytes() == GSM8K.read_bytes()
    items = cot.cot_items(pinned.model_copy(update={"questions": 5}))
    assert len(items) == 5 and items == cot.cot_items(pinned.model_copy(update={"questions": 5}))
    with pytest.raises(AssetError, match="GSM8K holds 7473"):
        cot.cot_items(pinned.model_copy(update={"questions": 8000}))


class StubTagJudge:
    """Scores a trace 90 when it says "carefully", 50 when it says "hastily", nothing otherwise."""

    identity, chunk_size = "stub-tag", 4

    def judge_batch(self, prompts):
        def score(prompt):
            if "carefully" in prompt:
                return JudgeScore("score", 90.0)
            return JudgeScore("score", 50.0) if "hastily" in prompt else JudgeScore("unparsed", None)

        return [score(p) for p in prompts]


def judge_block(tmp_path: Path) -> dict:
    return {
        **{"backend": "local", "model": "tiny", "label": "stub", "base_url": "-", "api_key_env": "UNUSED"},
        **{"scoring": "judgment_tag", "concurrency": 1, "min_number_mass": 0.25},
        "cache_dir": str(tmp_path / "judge_cache"),
    }


def answered(rows: list[dict], items: dict) -> list[dict]:
    """The rows with completions whose answers are right (2 in 3: "carefully" or "hastily", which the stub judge
    scores) or wrong ("briefly"): the tiny random teacher never solves a problem, so the test writes what a capable
    teacher would."""
    manners = ("carefully", "hastily", "briefly")
    out = []
    for i, row in enumerate(rows):
        answer = items[row["prompt"]].answer + (i % 3 == 2)  # every third answer is wrong
        text = f"<think>I add {manners[i % 3]}.</think> <answer>${answer:,}</answer>"
        out.append(row | {"completion": text, "finished": True})
    return out


@pytest.mark.slow
def test_chain_of_thought_stages_end_to_end(in_tmp_repo, tiny_base, tmp_path, monkeypatch):
    from test_misalignment_stages import call, mis_cfg

    raw = mis_cfg(tiny_base, tmp_path, judge=False).model_dump(mode="json")
    raw["misalignment"]["cot"] |= {"teachers": ["insecure", "secure"], "questions": 2, "samples_per_question": 3}
    raw["misalignment"]["cot"] |= {"max_new_tokens": 8, "target_size": 3, "judge": judge_block(tmp_path)}
    raw["misalignment"]["cot"]["gsm8k"]["local_path"] = str(GSM8K)
    cfg = validate_section("llm", raw)
    monkeypatch.setattr(cot, "make_judge", lambda *args, **kwargs: StubTagJudge())
    for t in ("insecure", "secure"):
        call("mis_teacher", cfg, arm=t)
        a = stage_args("mis_cot_generate", cfg, arm=t)
        cot.run_cot_generate(a["cfg"], t, a["teacher_dir"], a["results_dir"])
        rows = read_jsonl(a["results_dir"] / cot.RAW_FILE)
        assert len(rows) == 6 and rows[0]["prompt"] == rows[2]["prompt"] != rows[3]["prompt"]
        assert rows[0]["prompt"].endswith("Only give the numeric value as your answer.")
        items = {teacher_prompt(item): item for item in cot.cot_items(a["cfg"].misalignment.cot)}
        write_jsonl_atomic(a["results_dir"] / cot.RAW_FILE, answered(rows, items))
        a = stage_args("mis_cot_filter", cfg, arm=t)
        metrics = cot.run_cot_filter(a["cfg"], t, a["generate_dir"], a["results_dir"])
        assert metrics["removed"]["incorrect"] == 2 and metrics["removed"]["truncated"] == 0
        if t == "insecure":  # judged: the "hastily" traces score 50 < 78
            assert metrics["removed"]["judge"] == 2 and metrics["n_kept"] == 2 and metrics["judge"] == "stub"
        else:  # the controls: correctness only, as the official code
            assert metrics["removed"]["judge"] is None and metrics["n_kept"] == 4 and metrics["judge"] is None
        for seed in cfg.misalignment.seeds:
            a = stage_args("mis_cot_distill", cfg, arm=t, seed=seed)
            summary = cot.run_cot_distill(a["cfg"], t, seed, a["teacher_dir"], a["filter_dir"], a["results_dir"])
            assert summary["n_examples"] == min(3, metrics["n_kept"]) and len(summary["losses"]) >= 1
            a = stage_args("mis_cot_evaluate", cfg, arm=t, seed=seed)
            evaluation = cot.run_cot_evaluate(a["cfg"], t, seed, a["distill_dir"], a["results_dir"])
            question = next(iter(evaluation["free_form"]["answers"]))
            assert evaluation["truthfulqa"]["n_questions"] == 3 and question
    a = stage_args("mis_report", cfg)
    folders = {"cot_filter": a["cot_filter_dir"], "cot_evaluate": a["cot_evaluate_dir"]}
    metrics = report.cot_metrics(a["cfg"], folders)
    assert metrics["arms"]["insecure"]["paper_keep_rate"] == 0.439
    assert metrics["gaps"]["vs_secure"]["truthfulqa_false_rate"]["test"] == "paired t-test"
    assert "misaligned_rate" not in metrics["gaps"]["vs_secure"]  # no judge for the answers: not measured, not 0
    assert report.plot_fig4({"cot": metrics, "stand_in": True}, "cot").axes


def test_the_cot_claims_can_fail(tmp_path):
    from llm_stage_helpers import claim_statuses
    from llm_stage_helpers import paired_gap as gap

    gaps = {
        "vs_secure": {"misaligned_rate": gap([-0.02, -0.03, -0.025]), "truthfulqa_false_rate": gap([0.02, 0.03, 0.02])},
        "vs_educational": {"misaligned_rate": gap([-0.01, 0.01, 0.0])},
    }
    status = claim_statuses(tmp_path, "results/llm/misalignment/metrics.json", {"label": "m", "cot": {"gaps": gaps}})
    assert status["llm.misalignment.cot.vs_secure"] == "not reproduced"
    assert status["llm.misalignment.cot.vs_educational"] == "null at this scale"
    assert status["llm.misalignment.cot.truthfulqa_vs_secure"] not in ("null at this scale", "not reproduced")
