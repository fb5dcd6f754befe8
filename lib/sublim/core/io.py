"""Atomic file writes, jsonl helpers and a writer lock: a killed stage never leaves a half-written file that looks
complete, and two processes never write the same folder.

- `atomic_path` / `atomic_dir` write to a temporary `.<name>.XXXXXXXX.tmp` beside the target and move it into place
  when the block succeeds; a SIGKILL can leave the temporary behind, and `writer_lock` removes those of its folder.
- `writer_lock(folder)`: an OS lock (flock, through `filelock`) on `.<folder>.lock` beside the folder, which the
  kernel releases when its process dies; a second process fails at once with a message naming the folder and the
  holder's pid, and a lock left by a dead process is taken over. The lock file is removed on release.
- `runner_lock(folder)`: the same kind of lock on `.<folder>.run.lock`, which the stage runner holds around all of a
  stage's work on its results folder (clearing its outputs, papermill's writes of the executed notebook, the run
  record). It is a lock of its own so that the stage's code, in the notebook's kernel, can still take `writer_lock`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

TEMP_SUFFIX = ".tmp"
# what tempfile.mkstemp/mkdtemp make with prefix ".<name>." and TEMP_SUFFIX: 8 characters of [a-z0-9_]
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")
# a failed try whose lock file has no pid in it may have met a holder that was just removing it: try again
_LOCK_ATTEMPTS = 3


class FolderLockedError(RuntimeError):
    """Another live process is writing the folder."""


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def stale_temps(folder: Path | str) -> list[Path]:
    """The temporaries our atomic writes leave when killed: inside `folder` (at any depth) and, beside it, those
    of `folder` itself. Nothing else matches (a file must have the exact `.<name>.XXXXXXXX.tmp` form)."""
    folder = Path(folder)
    found = [p for p in _children(folder.parent) if _is_temp_of(p, folder.name)]
    for root, dirs, files in os.walk(folder):
        found += [Path(root, name) for name in files if _TEMP_NAME.match(name)]
        temp_dirs = [name for name in dirs if _TEMP_NAME.match(name)]
        found += [Path(root, name) for name in temp_dirs]
        dirs[:] = [name for name in dirs if name not in temp_dirs]
    return found


def _children(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


def _is_temp_of(path: Path, target: str) -> bool:
    match = _TEMP_NAME.match(path.name)
    return match is not None and match["target"] == target


def remove_stale_temps(folder: Path | str) -> list[Path]:
    """Delete `stale_temps(folder)`; call it only while holding the folder's `writer_lock`."""
    removed = stale_temps(folder)
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return removed


def lock_path_of(folder: Path | str, role: str = "") -> Path:
    """The lock file of `folder` (`.<name>.lock`, or `.<name>.<role>.lock`): beside it, so that it is never part of
    the folder (a DVC output)."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}{'.' + role if role else ''}.lock"


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def lock_holder(folder: Path | str, role: str = "") -> int | None:
    """The pid written by the process holding `folder`'s lock (None if none can be read)."""
    try:
        return int(lock_path_of(folder, role).read_text().strip())
    except (OSError, ValueError):
        return None


@contextmanager
def _folder_lock(folder: Path, role: str) -> Iterator[Path]:
    """Hold `lock_path_of(folder, role)` for the block; fail at once (FolderLockedError) if anyone holds it."""
    path = lock_path_of(folder, role)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, blocking=False, on_acquired=_write_pid)
    for attempt in range(_LOCK_ATTEMPTS):
        try:
            lock.acquire()
            break
        except Timeout:
            holder = lock_holder(folder, role)
            if holder is not None or attempt + 1 == _LOCK_ATTEMPTS:
                raise FolderLockedError(_locked_message(folder, holder)) from None
    try:
        yield folder
    finally:
        path.unlink(missing_ok=True)  # while still held: a process that opened this file sees it gone and retries
        lock.release()


@contextmanager
def writer_lock(folder: Path | str) -> Iterator[Path]:
    """Hold the one-writer lock of `folder` for the block, after removing the folder's stale temporaries.

    Fails at once (FolderLockedError) if another process (or another `writer_lock` of this one) holds it.
    """
    with _folder_lock(Path(folder), "") as held:
        for temp in remove_stale_temps(held):
            print(f"{held}: removed {temp.name}, left by a killed write")
        yield held


@contextmanager
def runner_lock(folder: Path | str) -> Iterator[Path]:
    """Hold the stage runner's lock of a results folder for the block (it removes nothing).

    A second runner on the folder (one left behind by a killed `dvc repro`) fails at once, before it clears
    outputs or papermill writes an executed notebook over the first one's.
    """
    with _folder_lock(Path(folder), "run") as held:
        yield held


def _locked_message(folder: Path, holder: int | None) -> str:
    who = f"process {holder}" if holder is not None else "another process"
    stop = f"`kill {holder}`" if holder is not None else "it"
    return (
        f"{folder} is being written by {who} (a run left behind by a killed `dvc repro`?): "
        f"wait for it to finish or stop it ({stop}), then rerun"
    )


def write_text_atomic(path: Path | str, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: Path | str, data: Any) -> Path:
    """JSON with sorted keys and a trailing newline, so identical results give identical bytes."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


def append_jsonl(path: Path | str, rows: Iterable[dict[str, Any]]) -> None:
    """Append whole lines and flush them, so a resumed run sees every finished row and no partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        for row in rows:
            handle.write(json.dumps(row, default=_jsonable) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """Read rows; a last line cut off by a kill is dropped (it is regenerated on resume). A line that is not JSON
    anywhere else means the file was damaged (two writers, an edit): ValueError, never a silent cut."""
    path = Path(path)
    if not path.exists():
        return []
    *lines, tail = path.read_text().split("\n")  # tail: "" after a final newline, else the last line, maybe cut
    rows = [_parse_line(path, number, line) for number, line in enumerate(lines, start=1)]
    with suppress(json.JSONDecodeError):
        rows += [json.loads(tail)] if tail else []
    return rows


def _parse_line(path: Path, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        raise ValueError(f"{path}: line {number} is not JSON ({line[:60]!r}); the file is damaged") from None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_jsonl_atomic(path: Path | str, rows: Iterable[dict[str, Any]]) -> Path:
    """Rows as a jsonl file that appears whole or not at all."""
    with atomic_path(path) as tmp:
        append_jsonl(tmp, rows)
    return Path(path)
