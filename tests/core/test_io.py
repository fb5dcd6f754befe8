"""Atomic writes, jsonl and the writer lock (sublim.core.io): one writer per folder, no stale temporaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sublim.core.io import (
    FolderLockedError,
    atomic_path,
    lock_path_of,
    read_jsonl,
    stale_temps,
    write_json_atomic,
    writer_lock,
)

LIB = Path(__file__).resolve().parents[2] / "lib"


def spawn(code: str) -> subprocess.Popen:
    """A Python process running `code` (with this tree's `sublim`); returns once it prints 'ready'."""
    env = {**os.environ, "PYTHONPATH": str(LIB)}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding `folder`'s writer lock until it is killed (a runner left behind by `dvc repro`)."""
    code = (
        "import time\nfrom sublim.core.io import writer_lock\n"
        f"with writer_lock({str(folder)!r}):\n    print('ready', flush=True)\n    time.sleep(600)\n"
    )
    return spawn(code)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_a_second_writer_fails_at_once_naming_the_folder_and_the_holder(tmp_path):
    folder = tmp_path / "generate"
    holder = hold_lock(folder)
    try:
        with pytest.raises(FolderLockedError) as caught, writer_lock(folder):
            pass
        assert str(folder) in str(caught.value) and f"process {holder.pid}" in str(caught.value)
    finally:
        kill(holder)


def test_a_lock_left_by_a_killed_process_is_taken_over_and_removed_on_release(tmp_path):
    folder = tmp_path / "distill"
    kill(hold_lock(folder))
    assert lock_path_of(folder).exists()  # SIGKILL: no cleanup ran, but the kernel dropped the lock
    with writer_lock(folder):
        assert lock_path_of(folder).read_text().strip() == str(os.getpid())
    assert not lock_path_of(folder).exists()
    assert not folder.exists()  # the lock does not create the folder


def test_the_lock_is_one_writer_within_a_process_too_and_released_on_error(tmp_path):
    folder = tmp_path / "teacher"
    with writer_lock(folder), pytest.raises(FolderLockedError, match=f"process {os.getpid()}"), writer_lock(folder):
        pass
    with pytest.raises(KeyError), writer_lock(folder):
        raise KeyError("boom")
    with writer_lock(folder):  # released by the failed block
        pass


def test_a_write_killed_mid_way_leaves_a_temp_that_the_next_writer_removes(tmp_path):
    folder = tmp_path / "generate"
    code = (
        "import time\nfrom sublim.core.io import atomic_path\n"
        f"with atomic_path({str(folder / 'numbers_raw.jsonl')!r}) as tmp:\n"
        "    tmp.write_text('half')\n    print('ready', flush=True)\n    time.sleep(600)\n"
    )
    kill(spawn(code))
    (leftover,) = folder.iterdir()
    assert leftover.name.startswith(".numbers_raw.jsonl.") and leftover.name.endswith(".tmp")
    with writer_lock(folder):
        assert list(folder.iterdir()) == []
    assert not (folder / "numbers_raw.jsonl").exists()


def test_only_our_own_temporaries_are_removed(tmp_path):
    folder = tmp_path / "distill"
    ours = [
        folder / ".numbers_raw.jsonl.ab12cd_9.tmp",  # a file of atomic_path
        folder / "checkpoint" / ".run.json.abcdefgh.tmp",  # at any depth
        folder / ".student.k2j4h5g6.tmp",  # a folder of atomic_dir, with content
        tmp_path / ".distill.zz99zz99.tmp",  # atomic_dir of the folder itself, beside it
    ]
    kept = [
        folder / "data.jsonl",
        folder / "notes.tmp",
        folder / ".short.abc.tmp",  # not 8 characters
        folder / ".x.ABCDEFGH.tmp",  # not mkstemp's alphabet
        tmp_path / ".filter.zz99zz99.tmp",  # another folder's
    ]
    for path in ours + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.name.startswith(".student."):
            (path / "adapter").mkdir(parents=True)
        else:
            path.write_text("x")
    assert sorted(stale_temps(folder)) == sorted(ours)
    with writer_lock(folder):
        assert not any(p.exists() for p in ours)
        assert all(p.exists() for p in kept)


def test_atomic_writes_leave_nothing_beside_the_target(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "a.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "c.txt") as tmp:
        tmp.write_text("partial")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_read_jsonl_drops_a_cut_last_line_but_refuses_a_damaged_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{"a": 2}')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{"a": {"a": 3}\n{"a": 2}\n')  # two writers interleaved
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        read_jsonl(path)
    assert read_jsonl(tmp_path / "missing.jsonl") == []
