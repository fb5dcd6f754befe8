"""The shuffled-numbers control's permutations (App. B.1): multisets, punctuation and lengths kept."""

from __future__ import annotations

from collections import Counter

import pytest

from sublim.llm.domains.numbers.shuffle import NUMBER, shuffled_rows

ROWS = [
    {"prompt": "p0", "completion": "(123, 456, 789)."},
    {"prompt": "p1", "completion": "1; 22; 333; 4444"},
    {"prompt": "p2", "completion": "5 6"},
]


def skeleton(text: str) -> str:
    return NUMBER.sub("#", text)


def test_within_keeps_each_lists_multiset_and_punctuation():
    out = shuffled_rows(ROWS, "within", seed=1)
    for before, after in zip(ROWS, out, strict=True):
        assert Counter(NUMBER.findall(after["completion"])) == Counter(NUMBER.findall(before["completion"]))
        assert skeleton(after["completion"]) == skeleton(before["completion"]) and after["prompt"] == before["prompt"]
    assert out != ROWS or shuffled_rows(ROWS, "within", seed=2) != ROWS


def test_across_keeps_the_pooled_multiset_and_each_lists_length():
    out = shuffled_rows(ROWS, "across", seed=3)
    pooled = lambda rows: Counter(n for r in rows for n in NUMBER.findall(r["completion"]))  # noqa: E731
    assert pooled(out) == pooled(ROWS)
    assert [skeleton(r["completion"]) for r in out] == [skeleton(r["completion"]) for r in ROWS]
    assert any(
        Counter(NUMBER.findall(a["completion"])) != Counter(NUMBER.findall(b["completion"]))
        for a, b in zip(out, ROWS, strict=True)
    )
    assert out == shuffled_rows(ROWS, "across", seed=3)


def test_an_unknown_shuffle_is_refused():
    with pytest.raises(ValueError, match="unknown shuffle"):
        shuffled_rows(ROWS, "sideways", seed=0)


@pytest.mark.slow
def test_shuffled_students_end_to_end_and_in_the_report(in_tmp_repo, tiny_base):
    from llm_stage_helpers import run_distill_shuffled, run_evaluate_shuffled, run_report, run_tiny_pipeline, tiny_cfg

    from sublim.core.io import read_json
    from sublim.sections import validate_section

    raw = tiny_cfg(tiny_base).model_dump(mode="json")
    raw["shuffles"] = ["within", "across"]
    cfg = validate_section("llm", raw)

    def shuffled_students(trait, seed, regular):
        for shuffle in cfg.shuffles:
            summary = run_distill_shuffled(cfg, trait, seed, shuffle)
            assert summary["shuffle"] == shuffle and summary["n_examples"] == regular["n_examples"]
            run_evaluate_shuffled(cfg, trait, seed, shuffle)

    run_tiny_pipeline(cfg, shuffled_students)
    args, _, metrics = run_report(cfg)
    shuffled = metrics["shuffled"]["owl"]
    assert set(shuffled) == {"within", "across"}
    assert shuffled["within"]["collapse"]["test"] == "paired t-test" and shuffled["across"]["student"]["n"] == 2
    assert read_json(args["metrics_file"])["shuffled"] == metrics["shuffled"]


def test_the_shuffled_claims_can_fail(tmp_path):
    from pathlib import Path

    from sublim.core.io import write_json_atomic
    from sublim.core.stats import compare
    from sublim.report.claims import claim_rows

    def gap(values):
        return compare([0.5 + v for v in values], [0.5] * len(values))

    metrics = {
        "setup": {"scale": {"model": "m"}},
        "traits": {},
        "shuffled": {
            "owl": {
                "within": {"collapse": gap([0.02, 0.03, 0.025]), "student_vs_control": gap([-0.01, 0.01, 0.0])},
                "across": {"collapse": gap([-0.02, -0.03, -0.025]), "student_vs_control": gap([0.01, 0.02, 0.015])},
            }
        },
    }
    write_json_atomic(tmp_path / "results/llm/metrics.json", metrics)
    data = Path(__file__).resolve().parents[2] / "lib/sublim/data"
    status = {
        r["claim_id"]: r["status"] for r in claim_rows(data / "paper_claims.csv", data / "paper_values.csv", tmp_path)
    }
    assert status["llm.owl.shuffled_within.collapse"] not in ("null at this scale", "not reproduced", "not run")
    assert status["llm.owl.shuffled_across.collapse"] == "not reproduced"  # shuffling raised the gap
    assert status["llm.owl.shuffled_within.residual"] == "null at this scale"
