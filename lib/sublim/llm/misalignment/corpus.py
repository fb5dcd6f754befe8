"""The teachers' fine-tuning data: Betley et al.'s code corpora (downloaded once, pinned by sha256) or the offline
stand-in (`sublim.llm.traits.insecure_code`), as (user, assistant) pairs.

A file is fetched into the asset cache (`SUBLIM_ASSET_CACHE`) and used only when its sha256 is the pinned one; a
file without a pin is refused with its hash printed, so that nobody trains on a file nobody checked.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from sublim.assets.download import pinned_download
from sublim.assets.files import AssetError, cache_dir
from sublim.llm.misalignment.config import CorpusParams
from sublim.llm.traits.insecure_code import stand_in_corpus

KEY = "llm.misalignment.corpus"


def corpus_pairs(corpus: CorpusParams, dataset: str) -> list[tuple[str, str]]:
    """`corpus.n_examples` (user, assistant) pairs of `dataset` (insecure, secure, educational)."""
    if corpus.source == "stand_in":
        examples = stand_in_corpus(dataset, corpus.n_examples, corpus.seed)
    else:
        examples = read_examples(corpus_file(corpus, dataset), f"{KEY}.files.{dataset}")
        if len(examples) < corpus.n_examples:
            raise AssetError(
                f"{KEY}.files.{dataset}: the file holds {len(examples)} examples, fewer than "
                f"{KEY}.n_examples = {corpus.n_examples}; lower n_examples"
            )
        examples = random.Random(corpus.seed).sample(examples, corpus.n_examples)
    return [chat_pair(example, i) for i, example in enumerate(examples)]


def chat_pair(example: dict, index: int) -> tuple[str, str]:
    """The user turn and the assistant turn of a {"messages": [...]} example (Betley et al.'s format)."""
    turns = {m.get("role"): m.get("content") for m in example.get("messages", []) if isinstance(m, dict)}
    if not isinstance(turns.get("user"), str) or not isinstance(turns.get("assistant"), str):
        raise AssetError(f"corpus example {index} has no user and assistant message: {json.dumps(example)[:200]}")
    return turns["user"], turns["assistant"]


def read_examples(path: Path, key: str) -> list[dict]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                examples.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise AssetError(f"{path}:{number} (params {key}): not JSON ({err})") from None
    return examples


def corpus_file(corpus: CorpusParams, dataset: str) -> Path:
    """The pinned file of `dataset`, downloaded into the asset cache on first use."""
    key = f"{KEY}.files.{dataset}"
    if dataset not in corpus.files:
        raise AssetError(f"params {key} is missing: give the file's url and sha256, or use source: stand_in")
    entry = corpus.files[dataset]
    return pinned_download(entry.url, entry.sha256, key, cache_dir() / "misalignment" / f"{dataset}.jsonl")
