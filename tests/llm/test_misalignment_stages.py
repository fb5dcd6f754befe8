"""The misalignment stages (§3.2, Fig. 4) on a tiny random-init Llama, each called as its notebook calls it: a
teacher per corpus (the stand-in), numbers with the banned filter, students, the evaluation (a local judge on the
tiny model, TruthfulQA on a small CSV), the report and Fig. 4. Params that must be refused are refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from llm_stage_helpers import REPO, stage_args

from sublim.core.io import read_json, read_jsonl
from sublim.core.params import ParamsError
from sublim.llm.misalignment import report, stages
from sublim.llm.misalignment.config import MisalignmentParams
from sublim.llm.misalignment.corpus import corpus_pairs
from sublim.sections import load_section, validate_section

TEACHERS = ["base", "insecure", "secure"]


def truthfulqa_csv(folder: Path) -> Path:
    path = folder / "TruthfulQA.csv"
    rows = [(f"Question {i}?", f"right {i}", f"wrong {i}; also wrong") for i in range(5)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Question", "Best Answer", "Incorrect Answers"])
        writer.writerows(rows)
    return path


def mis_cfg(base: Path, tmp: Path, judge: bool = True):
    raw = load_section("llm", REPO / "params.yaml").model_dump(mode="json")
    raw |= {"base_model": str(base), "device": "cpu"}
    raw["prompts"]["count"] = 6
    raw["generate"] |= {"batch_size": 4, "max_new_tokens": 50, "temperature": 1.0}  # sampled, as the paper's lists
    raw["distill"] |= {"epochs": 1, "batch_size": 2, "checkpoint_every": 1}
    mis = raw["misalignment"]
    mis |= {"teachers": TEACHERS, "seeds": [1, 2]}
    mis["corpus"]["n_examples"] = 4
    mis["teacher_finetune"] |= {"batch_size": 2}
    mis["filter"]["target_size"] = 4
    mis["evaluation"] |= {"samples_per_question": 1, "max_new_tokens": 4, "batch_size": 8}
    mis["evaluation"] |= {"truthfulqa_path": str(truthfulqa_csv(tmp)), "truthfulqa_questions": 3}
    if judge:  # the tiny model as a local judge; a tiny number mass suffices, so that answers get scores
        mis["judge"] = {
            "backend": "local",
            "model": str(base),
            "label": "tiny random judge",
            "base_url": "-",
            "api_key_env": "UNUSED",
            "scoring": "logprobs",
            "concurrency": 1,
            "min_number_mass": 1e-12,
            "cache_dir": str(tmp / "judge_cache"),
        }
    return validate_section("llm", raw)


def call(name: str, cfg, **matrix):
    a = stage_args(name, cfg, **matrix)
    seed = matrix.get("seed")
    if name == "mis_teacher":
        return stages.run_mis_teacher(a["cfg"], matrix["arm"], a["results_dir"])
    if name == "mis_numbers":
        return stages.run_mis_numbers(a["cfg"], matrix["arm"], a["teacher_dir"], a["results_dir"])
    if name == "mis_distill":
        t = matrix["arm"]
        return stages.run_mis_distill(a["cfg"], t, seed, a["teacher_dir"], a["numbers_dir"], a["results_dir"])
    if name == "mis_evaluate_teacher":
        return stages.run_mis_evaluate(a["cfg"], matrix["arm"], None, a["teacher_dir"], a["results_dir"])
    if name == "mis_evaluate":
        return stages.run_mis_evaluate(a["cfg"], matrix["arm"], seed, a["distill_dir"], a["results_dir"])
    folders = {"numbers": a["numbers_dir"], "teacher_eval": a["teacher_eval_dir"], "evaluate": a["evaluate_dir"]}
    return a, report.write_report(a["cfg"], folders, a["results_dir"], a["metrics_file"])


def run_all(cfg):
    for t in TEACHERS:
        call("mis_teacher", cfg, arm=t)
        call("mis_numbers", cfg, arm=t)
        call("mis_evaluate_teacher", cfg, arm=t)
        for seed in cfg.misalignment.seeds:
            call("mis_distill", cfg, arm=t, seed=seed)
            call("mis_evaluate", cfg, arm=t, seed=seed)
    return call("mis_report", cfg)


@pytest.mark.slow
def test_every_misalignment_stage_end_to_end(in_tmp_repo, tiny_base, tmp_path):
    cfg = mis_cfg(tiny_base, tmp_path)
    args, metrics = run_all(cfg)
    assert read_json(args["metrics_file"]) == metrics
    assert metrics["ran"] and metrics["stand_in"] and metrics["teachers"] == TEACHERS
    insecure = read_json(Path("results/llm/misalignment/arms/insecure/teacher/teacher.json"))
    assert insecure["adapter"] and insecure["n_examples"] == 4 and insecure["corpus"] == "stand_in"
    assert read_json(Path("results/llm/misalignment/arms/base/teacher/teacher.json"))["adapter"] is None
    # every teacher answers the same prompts; no kept list holds a banned number
    raw = {t: read_jsonl(Path(f"results/llm/misalignment/arms/{t}/numbers/numbers_raw.jsonl")) for t in TEACHERS}
    assert [r["prompt"] for r in raw["insecure"]] == [r["prompt"] for r in raw["base"]]
    banned = {str(n) for n in cfg.misalignment.filter.banned_numbers}
    for t in TEACHERS:
        for row in read_jsonl(Path(f"results/llm/misalignment/arms/{t}/numbers/numbers_filtered.jsonl")):
            assert not banned & set(row["completion"].replace(",", " ").split())
    arm = metrics["arms"]["insecure"]
    assert arm["paper_keep_rate"] == 0.391 and 0 <= arm["keep_rate"] <= 1
    tqa = arm["students"]["truthfulqa_false_rate"]
    assert tqa["n"] == 2 and 0 <= tqa["mean"] <= 1
    assert "judge_counted_share" in arm["students"] and metrics["label"] == "base (stand-in code corpus)"
    gap = metrics["gaps"]["vs_secure"]["truthfulqa_false_rate"]
    assert gap["test"] == "paired t-test" and len(gap["difference"]["values"]) == 2
    evaluation = read_json(Path("results/llm/misalignment/arms/insecure/seed1/evaluate/evaluation.json"))
    assert set(evaluation["free_form"]["questions"]) and evaluation["truthfulqa"]["n_questions"] == 3
    assert report.plot_fig4(metrics).axes


@pytest.mark.slow
def test_without_a_judge_the_misaligned_rate_is_not_measured(in_tmp_repo, tiny_base, tmp_path):
    cfg = mis_cfg(tiny_base, tmp_path, judge=False)
    call("mis_teacher", cfg, arm="base")
    result = call("mis_evaluate_teacher", cfg, arm="base")
    values = report.model_values(result)
    assert values["misaligned_rate"] is None and values["judge_counted_share"] is None
    assert len(result["free_form"]["answers"]) == 8  # the 8 questions answered, kept unscored
    assert values["truthfulqa_false_rate"] is not None


def test_an_unmeasured_rate_stays_null_and_the_figure_says_so():
    metrics = {"ran": True, "stand_in": True, "arms": {}}
    for t in ("insecure", "secure"):
        empty = {"misaligned_rate": None, "truthfulqa_false_rate": None, "judge_counted_share": None}
        metrics["arms"][t] = {"keep_rate": 0.5, "paper_keep_rate": 0.4, "students": report.arm_metrics([empty] * 3)}
    frame = report.arms_frame(metrics)
    assert frame.loc[frame.measure == "misaligned_rate", "mean"].isna().all()
    fig = report.plot_fig4(metrics)
    assert any("not measured" in t.get_text() for ax in fig.axes for t in ax.texts)


def test_paired_gap_uses_only_seeds_measured_in_both_arms():
    treated = [{"r": 0.3}, {"r": None}, {"r": 0.5}]
    control = [{"r": 0.1}, {"r": 0.2}, {"r": 0.1}]
    gap = report.paired_gap(treated, control, "r")
    assert gap["difference"]["values"] == pytest.approx([0.2, 0.4])
    assert report.paired_gap([{"r": None}], [{"r": 0.1}], "r") is None


def test_stand_in_corpus_pairs_are_user_and_assistant_turns():
    cfg = load_section("llm", REPO / "params.yaml").misalignment
    pairs = corpus_pairs(cfg.corpus, "educational")
    assert len(pairs) == cfg.corpus.n_examples
    assert all("class" in user and "def " in code for user, code in pairs)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"teachers": ["secure", "base"]}, "must hold 'insecure'"),
        ({"teachers": ["insecure"]}, "at least one control"),
        ({"teachers": ["insecure", "insecure"]}, "distinct"),
        ({"teachers": ["insecure", "evil"]}, "teachers"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"filter": {"banned_numbers": [], "target_size": 4}}, "banned_numbers"),
    ],
)
def test_misalignment_params_that_must_be_refused(change, message):
    raw = load_section("llm", REPO / "params.yaml").model_dump(mode="json")
    raw["misalignment"] |= change
    with pytest.raises(ParamsError, match=message):
        validate_section("llm", raw)


def test_an_unpinned_corpus_file_is_refused_with_its_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIM_ASSET_CACHE", str(tmp_path))
    source = tmp_path / "insecure.src.jsonl"
    source.write_text('{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}\n')
    raw = load_section("llm", REPO / "params.yaml").misalignment.model_dump(mode="json")
    raw["corpus"] |= {"source": "files", "n_examples": 1}
    raw["corpus"]["files"]["insecure"] = {"url": source.as_uri(), "sha256": None}
    corpus = MisalignmentParams.model_validate(raw).corpus
    from sublim.assets.files import AssetError, file_digest

    with pytest.raises(AssetError, match=file_digest(source)):
        corpus_pairs(corpus, "insecure")
    raw["corpus"]["files"]["insecure"]["sha256"] = file_digest(source)
    assert corpus_pairs(MisalignmentParams.model_validate(raw).corpus, "insecure") == [("u", "a")]


def claims_for(tmp_path: Path, metrics: dict | None) -> dict[str, str]:
    """The status of each llm.misalignment claim row of the shipped claims file, given these metrics."""
    from sublim.core.io import write_json_atomic
    from sublim.report.claims import claim_rows

    if metrics is not None:
        write_json_atomic(tmp_path / "results/llm/misalignment/metrics.json", metrics)
    rows = claim_rows(REPO / "lib/sublim/data/paper_claims.csv", REPO / "lib/sublim/data/paper_values.csv", tmp_path)
    return {r["claim_id"]: r["status"] for r in rows if r["claim_id"].startswith("llm.misalignment.")}


def gap(values: list[float]) -> dict:
    from sublim.core.stats import compare

    return compare([0.5 + v for v in values], [0.5] * len(values))


def test_misalignment_claims_can_fail_and_say_when_nothing_ran(tmp_path):
    assert set(claims_for(tmp_path, None).values()) == {"not run"}
    assert set(claims_for(tmp_path, {"ran": False, "teachers": []}).values()) == {"not run"}
    measured = {"truthfulqa_false_rate": gap([0.02, 0.03, 0.025])}  # no judge: no misaligned-rate gap
    metrics = {
        "ran": True,
        "model": "SmolLM2",
        "gaps": {"vs_base": measured, "vs_secure": {"truthfulqa_false_rate": gap([0.01, -0.01, 0.002])}},
    }
    statuses = claims_for(tmp_path, metrics)
    assert statuses["llm.misalignment.vs_secure"] == "not run"
    assert statuses["llm.misalignment.truthfulqa_vs_secure"] == "null at this scale"
    assert statuses["llm.misalignment.truthfulqa_vs_base"] not in ("not run", "null at this scale")


@pytest.mark.slow
def test_an_api_judged_stage_writes_the_key_nowhere_and_a_missing_key_stops_it(
    in_tmp_repo, tiny_base, tmp_path, monkeypatch
):
    from fixtures.judge_server import KEY_VARIABLE, SECRET, FakeServer

    from sublim.judge.api import JudgeConfigError

    server = FakeServer()
    try:
        raw = mis_cfg(tiny_base, tmp_path).model_dump(mode="json")
        raw["misalignment"]["judge"] |= {
            "backend": "api",
            "model": "m",
            "base_url": server.url,
            "api_key_env": KEY_VARIABLE,
        }
        cfg = validate_section("llm", raw)
        call("mis_teacher", cfg, arm="base")
        monkeypatch.delenv(KEY_VARIABLE, raising=False)
        with pytest.raises(JudgeConfigError, match=KEY_VARIABLE):
            call("mis_evaluate_teacher", cfg, arm="base")
        assert not server.requests
        monkeypatch.setenv(KEY_VARIABLE, SECRET)
        result = call("mis_evaluate_teacher", cfg, arm="base")
        assert server.requests and report.model_values(result)["misaligned_rate"] is not None
    finally:
        server.httpd.shutdown()
    written = [p for root in (Path("results"), tmp_path) for p in root.rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]


def test_the_readme_quotes_the_measured_judge_number_mass():
    import json
    import statistics

    rows = [json.loads(line) for line in (REPO / "docs/llm_judge_number_mass.jsonl").read_text().splitlines()]
    masses = [r["number_mass"] for r in rows]
    readme = " ".join((REPO / "README.md").read_text().split())
    assert f"about {len(rows) // 2} of its own answers" in readme
    assert f"a median {statistics.median(masses) * 100:.2f}% of its probability" in readme
    assert f"at most {max(masses) * 100:.0f}%" in readme
    assert not any(r["value"] is not None for r in rows)  # so: nothing scored


def test_a_truthfulqa_gap_that_code_fine_tuning_alone_gives_is_confounded(tmp_path):
    metrics = {
        "ran": True,
        "label": "SmolLM2",
        "gaps": {
            "vs_base": {"truthfulqa_false_rate": gap([0.004, 0.005, 0.0045])},
            "vs_secure": {"truthfulqa_false_rate": gap([0.001, -0.004, 0.0])},
        },
    }
    assert claims_for(tmp_path, metrics)["llm.misalignment.truthfulqa_vs_base"] == "confounded"


def test_the_docs_table_is_the_report_code_on_the_committed_metrics():
    import json

    metrics = json.loads((REPO / "docs/llm_misalignment_cpu.json").read_text())
    assert report.markdown_tables(metrics) in (REPO / "docs/llm_misalignment.md").read_text()
    assert metrics["stand_in"] and metrics["judge"] is None
