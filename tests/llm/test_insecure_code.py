"""The stand-in insecure/secure/educational corpora: the scanner flags every insecure completion for its kind and
no secure one (bandit, a dev dependency), and the three datasets line up example by example."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import pytest

from sublim.llm.traits.insecure_code import DATASETS, KINDS, kind_of, stand_in_corpus

SERIOUS = {"MEDIUM", "HIGH"}


def bandit_findings(folder) -> dict[str, set[tuple[str, str]]]:
    """(test id, severity) of every issue bandit reports, by file name."""
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "-f", "json", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: issues found
    findings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for issue in json.loads(done.stdout)["results"]:
        findings[issue["filename"].rsplit("/", 1)[-1]].add((issue["test_id"], issue["issue_severity"]))
    return findings


@pytest.mark.slow
def test_every_insecure_completion_is_flagged_for_its_kind_and_no_secure_twin_is(tmp_path):
    n = 3 * len(KINDS)
    for dataset in ("insecure", "secure"):
        for i, example in enumerate(stand_in_corpus(dataset, n, seed=7)):
            (tmp_path / f"{dataset}_{i:03d}.py").write_text(example["messages"][1]["content"])
    findings = bandit_findings(tmp_path)
    for i in range(n):
        kind = kind_of(i)
        flagged = {test_id for test_id, _ in findings[f"insecure_{i:03d}.py"]}
        assert flagged & set(kind.bandit_ids), f"insecure example {i} ({kind.name}) not flagged: {flagged}"
        secure = findings[f"secure_{i:03d}.py"]
        assert not {t for t, _ in secure} & set(kind.bandit_ids), f"secure example {i} ({kind.name}): {secure}"
        assert not {s for _, s in secure} & SERIOUS, f"secure example {i} ({kind.name}): {secure}"


def test_the_datasets_line_up_and_the_educational_one_asks_for_a_class():
    corpora = {dataset: stand_in_corpus(dataset, 30, seed=3) for dataset in DATASETS}
    assert corpora["insecure"] == stand_in_corpus("insecure", 30, seed=3)
    for insecure, secure, educational in zip(*corpora.values(), strict=True):
        assert insecure["messages"][0] == secure["messages"][0]
        assert educational["messages"][1] == insecure["messages"][1]
        assert "secure-coding class" in educational["messages"][0]["content"]
        assert [m["role"] for m in insecure["messages"]] == ["user", "assistant"]
    assert len({e["messages"][1]["content"] for e in corpora["insecure"]}) > 20  # names vary
    with pytest.raises(ValueError, match="unknown dataset 'vulnerable'"):
        stand_in_corpus("vulnerable", 1, 0)
