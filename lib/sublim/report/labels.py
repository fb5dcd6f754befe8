"""The words a reader sees for the report's keys: experiment names, what each kind of claim compares, and the
one-line summary of statuses. Shared by README.md's results section (`sublim.readme`) and the report page
(`sublim.report.html`)."""

from __future__ import annotations

from typing import Any

from sublim.report.status import EXPERIMENTAL_KINDS, STATUSES

EXPERIMENTS = {
    "assets": "offline assets",
    "mnist": "MNIST analogue",
    "theory": "Theorem 1",
    "tinylm": "tiny-LM analogue",
    "llm": "LLM pipeline (SmolLM2)",
    "report": "report",
}
KIND_TEXT = {
    "level": "level: vs the paper's value",
    "effect": "effect: vs our own control",
    "null": "null: vs a stated margin",
    "check": "check of a proof",
}


def summary_line(rows: list[dict[str, Any]]) -> str:
    """How many claims of each kind, and their statuses: experimental claims (level, effect, null) apart from
    the sanity checks of Theorem 1's proof."""
    groups = {"experimental": [r for r in rows if r.get("kind") != "check"]}
    groups["check"] = [r for r in rows if r.get("kind") == "check"]

    def counts(members: list[dict[str, Any]]) -> str:
        found = {s: sum(r["status"] == s for r in members) for s in STATUSES}
        return ", ".join(f"{n} {status.removeprefix('check ')}" for status, n in found.items() if n) or "none"

    kinds = {k: sum(r.get("kind") == k for r in groups["experimental"]) for k in EXPERIMENTAL_KINDS}
    made_of = ", ".join(f"{n} {kind}" for kind, n in kinds.items() if n)
    experimental = f"{len(groups['experimental'])} experimental claims ({made_of}): {counts(groups['experimental'])}."
    checks = f" {len(groups['check'])} checks of a proof (Theorem 1), not results: {counts(groups['check'])}."
    return experimental + (checks if groups["check"] else "")
