"""MNIST digits and the noise images the students see, as flat tensors scaled to [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sublim.assets.mnist import load_mnist
from sublim.core.seeds import torch_generator
from sublim.mnist.config import MnistParams
from sublim.mnist.seeds import NOISE_TAG

N_CLASSES = 10
IMAGE_PIXELS = 28 * 28


@dataclass
class MnistData:
    """Flattened images: the digits as stored (uint8), the noise as floats; `model_input` scales a batch."""

    train_x: Tensor  # uint8 digits: a quarter of the memory of floats (the fp32 run's peak fell 1.54 -> 1.34 GiB)
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    noise_x: Tensor  # uniform [-1, 1] images the students are distilled on


def model_input(images: Tensor) -> Tensor:
    """A batch as the models see it: uint8 digits scaled to [-1, 1] (the official ToTensor + Normalize(0.5, 0.5));
    float images (the noise) as they are."""
    return images.float() / 127.5 - 1.0 if images.dtype == torch.uint8 else images


def flat_images(images: np.ndarray) -> Tensor:
    return torch.from_numpy(images.reshape(len(images), -1))


def prepare_data(arrays: dict[str, np.ndarray], n_train: int, n_noise: int, seed: int, device: str) -> MnistData:
    """The first `n_train` training images, the full test set and `n_noise` noise images (seeded)."""
    noise = torch.rand(n_noise, IMAGE_PIXELS, generator=torch_generator(seed, NOISE_TAG)) * 2 - 1
    return MnistData(
        train_x=flat_images(arrays["train_images"][:n_train]).to(device),
        train_y=torch.from_numpy(arrays["train_labels"][:n_train].astype(np.int64)).to(device),
        test_x=flat_images(arrays["test_images"]).to(device),
        test_y=torch.from_numpy(arrays["test_labels"].astype(np.int64)).to(device),
        noise_x=noise.to(device),
    )


def load_data(cfg: MnistParams, device: str) -> MnistData:
    """The stage's data: the MNIST asset at `cfg.mnist_path`, cut and scaled as `cfg` says."""
    return prepare_data(load_mnist(cfg.mnist_path), cfg.n_train_images, cfg.n_noise_images, cfg.seed, device)
