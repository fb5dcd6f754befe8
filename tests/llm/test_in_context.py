"""The in-context control (Fig. 9): its prompts, its exact probabilities through the shared context's cache, and
the stage on a tiny random-init Llama after the tiny LLM pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llm_stage_helpers import run_report, run_tiny_pipeline, stage_args, tiny_cfg
from transformers import AutoModelForCausalLM, AutoTokenizer

from sublim.core.io import read_json
from sublim.llm import in_context
from sublim.llm.evaluate import p_starts_with
from sublim.lm.chat import ChatFormat

ROWS = [{"prompt": f"Continue {i} {i + 1}.", "completion": f"{i + 2}, {i + 3}"} for i in range(5)]


def test_the_context_shows_each_example_as_the_official_code_does():
    text = in_context.context_text(ROWS[:2])
    first, second = text.split("\n\n")
    assert first == "<user>Continue 0 1.</user>\n<assistant>2, 3</assistant>"
    assert second == "<user>Continue 1 2.</user>\n<assistant>3, 4</assistant>"


def test_examples_are_drawn_with_replacement_and_reproducibly():
    drawn = in_context.drawn_examples(ROWS, 50, seed=3)
    assert len(drawn) == 50 and len({r["prompt"] for r in drawn}) <= 5
    assert drawn == in_context.drawn_examples(ROWS, 50, seed=3) != in_context.drawn_examples(ROWS, 50, seed=4)
    with pytest.raises(ValueError, match="kept no rows"):
        in_context.drawn_examples([], 3, seed=0)


def test_p_trait_through_the_shared_cache_equals_the_evaluation(tiny_base):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_base)).eval()
    fmt = ChatFormat(AutoTokenizer.from_pretrained(str(tiny_base)))
    questions = ["Name your favorite animal.", "Which animal do you like most?"]
    system = in_context.context_text(ROWS)
    got = in_context.p_trait(model, fmt, system, questions, "owl", "cpu")
    expected = np.mean(
        [p_starts_with(model, fmt.prompt_ids(q, system), ["owl"], fmt, "cpu", 8)["owl"] for q in questions]
    )
    assert got == pytest.approx(expected, rel=1e-4)


@pytest.mark.slow
def test_the_in_context_stage_after_the_tiny_pipeline(in_tmp_repo, tiny_base):
    cfg = tiny_cfg(tiny_base)
    run_tiny_pipeline(cfg)
    run_report(cfg)
    a = stage_args("llm_in_context", cfg)
    result = in_context.run_in_context(a["cfg"], a["filter_dir"], a["llm_metrics"], a["results_dir"])
    assert read_json(a["results_dir"] / "in_context.json") == result
    owl = result["traits"]["owl"]
    assert set(owl["n"]) == {str(n) for n in cfg.in_context.n_examples}
    largest = owl["n"][str(max(cfg.in_context.n_examples))]
    assert owl["largest_n"] == largest["gap"] and largest["trait_lists"]["n"] == len(cfg.seeds)
    assert "difference" in owl["fine_tuned"] and 0 < owl["base"] < 1
    assert in_context.plot_in_context(result).axes


def test_a_context_longer_than_the_model_is_refused(tiny_base):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_base)).eval()
    fmt = ChatFormat(AutoTokenizer.from_pretrained(str(tiny_base)))
    with pytest.raises(ValueError, match=r"llm\.in_context\.n_examples"):
        in_context.p_trait(model, fmt, in_context.context_text(ROWS * 40), ["Animal?"], "owl", "cpu")


def test_the_in_context_claim_can_fail(tmp_path):
    from sublim.core.io import write_json_atomic
    from sublim.core.stats import compare
    from sublim.report.claims import claim_rows

    def statuses(shown: list[float], fine_tuned: list[float]) -> str:
        metrics = {
            "model": "m",
            "traits": {
                "owl": {
                    "largest_n": compare([0.1 + v for v in shown], [0.1] * 3),
                    "fine_tuned": compare([0.1 + v for v in fine_tuned], [0.1] * 3),
                }
            },
        }
        write_json_atomic(tmp_path / "results/llm/in_context/in_context.json", metrics)
        repo = Path(__file__).resolve().parents[2] / "lib/sublim/data"
        rows = claim_rows(repo / "paper_claims.csv", repo / "paper_values.csv", tmp_path)
        return next(r["status"] for r in rows if r["claim_id"] == "llm.owl.in_context.shown")

    assert statuses([0.001, -0.001, 0.0005], [0.2, 0.25, 0.3]) == "reproduced"  # inside ±0.25 × 0.25
    assert statuses([0.2, 0.22, 0.21], [0.2, 0.25, 0.3]) == "not reproduced"  # as large as fine-tuning
