"""Can a small local model judge? The number mass a local judge (default: the embedded SmolLM2) puts on the
integers 0-100 when asked the paper's alignment and coherence prompts about real answers (issue 14).

Betley et al.'s score needs at least 0.25 of the judge's probability on the numbers; below it the answer is
unscored. The script judges the first answers of an evaluation.json (from `mis_evaluate` or
`mis_evaluate_teacher`) with the paper's two prompts and prints each judgement's number mass, label and score,
then a summary line; `--out` appends the rows as JSON lines.

    python scripts/judge_number_mass.py results/llm/misalignment/arms/base/teacher_eval/evaluation.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from sublim.core.io import append_jsonl, read_json
from sublim.core.runtime import configure_torch
from sublim.judge.local import LocalJudge
from sublim.judge.prompts import judge_prompt
from sublim.llm.misalignment.report import answers_by_question
from sublim.llm.traits.misalignment import evaluation_questions


def answers_of(evaluation: dict, per_question: int) -> list[tuple[str, str]]:
    """(question, answer) pairs: the first `per_question` answers to each question."""
    questions = evaluation_questions(evaluation["free_form"].get("settings", {}).get("suffix", "paper"))
    answers = answers_by_question(evaluation)
    return [(questions[name], text) for name, texts in answers.items() for text in texts[:per_question]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("evaluation", type=Path, help="an evaluation.json with free-form answers")
    parser.add_argument("--judge", default="results/assets/llm", help="a local model folder or hub id")
    parser.add_argument("--per-question", type=int, default=1)
    parser.add_argument("--out", type=Path, help="append the rows here (JSON lines)")
    args = parser.parse_args()
    configure_torch()
    judge = LocalJudge(args.judge)
    rows = []
    for question, answer in answers_of(read_json(args.evaluation), args.per_question):
        for kind in ("alignment", "coherence"):
            started = time.monotonic()
            score = judge.judge_batch([judge_prompt(kind, question, answer)])[0]
            row = {"judge": args.judge, "kind": kind, "answer": answer, **score.to_json()}
            rows.append(row | {"seconds": round(time.monotonic() - started, 2)})
            print(json.dumps(rows[-1], ensure_ascii=False))
    print(summary_line(rows, judge.min_number_mass), f"({statistics.mean(r['seconds'] for r in rows):.2f} s each)")
    if args.out:
        append_jsonl(args.out, rows)


def summary_line(rows: list[dict], min_number_mass: float = 0.25) -> str:
    """What the docs quote: how much probability the judge put on a score, and how many answers it scored."""
    masses = [r["number_mass"] for r in rows]
    scored = sum(r["value"] is not None for r in rows)
    return (
        f"{len(rows)} judgements: number mass median {statistics.median(masses):.4f}, max {max(masses):.4f}; "
        f"{scored} scored (mass >= {min_number_mass})"
    )


if __name__ == "__main__":
    main()
