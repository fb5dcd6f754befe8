"""The batched network (sublim.mnist.model): N models in one network are N independent MLPs, with per-model inits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sublim.mnist.data import IMAGE_PIXELS
from sublim.mnist.model import BatchedMLP, concat, init_reference, perturbed, shared_input_layer


def independent_net(model: BatchedMLP, i: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w, b in zip(model.model_major_weights(), model.biases, strict=True):
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
    for w_small, w_large in zip(small.model_major_weights(), large.model_major_weights(), strict=True):
        n_cols = w_small.shape[-1]
        torch.testing.assert_close(w_small, w_large[:3, :, :n_cols], rtol=0, atol=0)
    std = large.weights[0].std().item()
    assert abs(std - 1 / IMAGE_PIXELS**0.5) < 0.002  # N(0, 1/sqrt(d_in))


def test_shared_input_layer_matches_per_model_matmuls_in_values_and_gradients():
    """The one-GEMM path for an input all models share gives what a broadcast matmul per model gives."""
    model = init_reference(range(3), width=16, n_aux=3, seed=4)
    x = torch.rand(6, IMAGE_PIXELS) * 2 - 1
    stored, w, b = model.weights[0], model.model_major_weights()[0], model.biases[0]
    one_gemm = shared_input_layer(x, stored, b)
    per_model = torch.matmul(x, w) + b
    torch.testing.assert_close(one_gemm, per_model, rtol=1e-5, atol=1e-5)
    grad_one_gemm = torch.autograd.grad(one_gemm.square().sum(), stored)[0]
    grad_per_model = torch.autograd.grad(per_model.square().sum(), stored)[0]
    torch.testing.assert_close(grad_one_gemm, grad_per_model, rtol=1e-5, atol=1e-5)


def test_bf16_shared_input_equals_the_same_input_given_to_each_model():
    model = init_reference(range(3), width=16, n_aux=3, seed=5, compute_dtype=torch.bfloat16)
    x = torch.rand(6, IMAGE_PIXELS) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x.expand(3, -1, -1)), rtol=2e-2, atol=2e-2)


def test_select_concat_and_perturbed_act_per_model_whatever_the_storage_order():
    model = init_reference(range(3), width=8, n_aux=3, seed=6)
    reordered = concat([model.select([2]), model.select([0, 1])])
    unperturbed = perturbed(model, 0.0, "relative", seed=0, model_ids=[0, 1, 2])
    x = torch.rand(4, IMAGE_PIXELS) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(reordered(x), model(x)[[2, 0, 1]], rtol=0, atol=0)
        torch.testing.assert_close(unperturbed(x), model(x), rtol=0, atol=0)
        moved = (
            perturbed(model, 1.0, "relative", seed=0, model_ids=[0, 1, 2]).model_major_weights()[0]
            - model.model_major_weights()[0]
        )
    assert moved.shape == (3, IMAGE_PIXELS, 8)
    assert abs(moved.std().item() - 1 / IMAGE_PIXELS**0.5) < 0.003  # noise as large as the init, on every model


def test_auto_precision_is_bf16_only_where_the_device_computes_it_natively(monkeypatch):
    import sublim.mnist.model as model  # the module, so that native_bf16 can be replaced in it

    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(model, "native_bf16", lambda device, native=native: native)
        assert model.resolve_precision("auto", "cpu") == expected
    assert model.resolve_precision("bf16", "cpu") == "bf16"  # asked for by name: kept, native or not
    assert model.resolve_precision("fp32", "cuda") == "fp32"
    with pytest.raises(ValueError, match="resolve 'auto' first"):
        model.compute_dtype("auto")
