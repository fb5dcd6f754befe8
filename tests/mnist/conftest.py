"""Fixtures of the MNIST tests: the MNIST asset, params.yaml's `mnist` block shrunk, and one torch thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from sublim.assets.mnist import load_mnist
from sublim.core.params import read_yaml
from sublim.mnist.config import MnistParams

REPO = Path(__file__).resolve().parents[2]
MNIST_NPZ = REPO / "results/assets/mnist/mnist.npz"


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    """Every MNIST test on one torch thread, the count restored afterwards.

    The batched network equals its models trained one at a time exactly on one thread; with more threads the
    matmuls of a 3-model and a 1-model network split their sums differently (about 1e-6 apart after a few Adam
    steps), so the result would depend on the thread count an earlier test left behind (`configure_torch`).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def mnist_arrays() -> dict[str, np.ndarray]:
    if not MNIST_NPZ.exists():
        pytest.fail(f"{MNIST_NPZ} is missing: run `make assets && dvc repro assets_mnist` (or `make test`)")
    return load_mnist(MNIST_NPZ)


@pytest.fixture
def tiny_params() -> Callable[..., MnistParams]:
    """params.yaml's `mnist` block on the asset, in fp32, with the given overrides."""

    def make(**overrides) -> MnistParams:
        values = read_yaml(REPO / "params.yaml")["mnist"]
        values.update(mnist_path=str(MNIST_NPZ), precision="fp32")
        values.update(overrides)
        return MnistParams.model_validate(values)

    return make
