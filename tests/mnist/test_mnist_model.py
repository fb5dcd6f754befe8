"""The batched network (sublim.mnist.model): N models in one network are N independent MLPs, with per-model inits."""

from __future__ import annotations

import torch
from torch import nn

from sublim.mnist.data import IMAGE_PIXELS
from sublim.mnist.model import BatchedMLP, init_reference


def independent_net(model: BatchedMLP, i: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w, b in zip(model.weights, model.biases, strict=True):
        linear = nn.Linear(w.shape[1], w.shape[2])
        with torch.no_grad():
            linear.weight.copy_(w[i].T)
            linear.bias.copy_(b[i, 0])
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def test_batched_network_equals_independent_networks():
    model = init_reference(range(4), width=32, n_aux=3, seed=1)
    shared = torch.rand(5, IMAGE_PIXELS) * 2 - 1
    per_model = torch.rand(4, 5, IMAGE_PIXELS) * 2 - 1
    with torch.no_grad():
        out_shared, out_per_model = model(shared), model(per_model)
        for i in range(4):
            net = independent_net(model, i)
            torch.testing.assert_close(out_shared[i], net(shared), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out_per_model[i], net(per_model[i]), rtol=1e-5, atol=1e-5)


def test_init_is_per_model_and_aux_columns_are_prefix_stable():
    small = init_reference([0, 1, 2], width=16, n_aux=3, seed=0)
    large = init_reference([0, 1, 2, 3, 4], width=16, n_aux=10, seed=0)
    for w_small, w_large in zip(small.weights, large.weights, strict=True):
        n_cols = w_small.shape[-1]
        torch.testing.assert_close(w_small, w_large[:3, :, :n_cols], rtol=0, atol=0)
    std = large.weights[0].std().item()
    assert abs(std - 1 / IMAGE_PIXELS**0.5) < 0.002  # N(0, 1/sqrt(d_in))
