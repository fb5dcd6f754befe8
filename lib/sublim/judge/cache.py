"""Judgements on disk: one SQLite file, one row per (judge, prompt) hash, each written as it arrives.

A judge call costs money (an API) or seconds (a local model): a rerun, or a run killed halfway, finds every
judgement already made and asks only for the rest. SQLite commits each write atomically (a kill never leaves half a
row) and lets several processes share the file. Only the judge's identity, the prompt's hash and the score are
stored: never a key, and not the prompt itself.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from sublim.judge.scores import JudgeScore

CACHE_FILE = "judgements.sqlite"


def cache_key(judge_identity: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([judge_identity, prompt]).encode()).hexdigest()


class JudgeCache:
    """`folder`/judgements.sqlite; `get` and `put` by `cache_key`."""

    def __init__(self, folder: Path | str):
        self.path = Path(folder) / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        with self._lock, self._connection:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS judgements (key TEXT PRIMARY KEY, judge TEXT NOT NULL, score TEXT NOT NULL)"
            )

    def get_many(self, keys: Sequence[str]) -> dict[str, JudgeScore]:
        found: dict[str, JudgeScore] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(f"SELECT key, score FROM judgements WHERE key IN ({marks})", chunk)
                found.update((key, JudgeScore.from_json(json.loads(score))) for key, score in rows)
        return found

    def put_many(self, judge_identity: str, items: Iterable[tuple[str, JudgeScore]]) -> None:
        rows = [(key, judge_identity, json.dumps(score.to_json())) for key, score in items]
        with self._lock, self._connection:
            self._connection.executemany("INSERT OR REPLACE INTO judgements VALUES (?, ?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM judgements").fetchone()[0])

    def close(self) -> None:
        self._connection.close()
