"""The MNIST analogue (sublim.mnist.experiment): batched network, derangement, gradients, and a tiny end-to-end run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from sublim.mnist import experiment as mnist
from sublim.mnist.config import MnistParams
from sublim.core.params import read_yaml

MNIST_NPZ = Path(__file__).resolve().parents[1] / "results/assets/mnist/mnist.npz"

torch.set_num_threads(1)


def tiny_params(**overrides) -> MnistParams:
    values = read_yaml(Path(__file__).resolve().parents[1] / "params.yaml")["mnist"]
    values.update(mnist_path=str(MNIST_NPZ), precision="fp32")
    values.update(overrides)
    return MnistParams.model_validate(values)


@pytest.mark.parametrize("n", [2, 3, 5, 10, 100])
def test_derangement_is_a_permutation_without_fixed_points(n):
    for seed in range(20):
        perm = mnist.derangement(n, mnist.generator(seed))
        assert sorted(perm) == list(range(n))
        assert all(i != j for i, j in enumerate(perm))


def test_derangement_of_one_model_is_refused():
    with pytest.raises(ValueError, match="n >= 2"):
        mnist.derangement(1, mnist.generator(0))


def test_aux_only_distillation_gives_class_logit_columns_zero_gradient():
    students = mnist.init_reference(range(3), width=16, n_aux=3, seed=0)
    teacher_logits = torch.randn(3, 8, 13)
    out = students(torch.rand(8, mnist.IMAGE_PIXELS) * 2 - 1)
    for loss in ("kl", "mse"):
        students.zero_grad()
        aux = mnist.aux_logits(3)
        mnist.distill_loss(out[..., aux], teacher_logits[..., aux], loss).backward(retain_graph=True)
        last_w, last_b = students.weights[-1].grad, students.biases[-1].grad
        assert torch.count_nonzero(last_w[..., : mnist.N_CLASSES]) == 0
        assert torch.count_nonzero(last_b[..., : mnist.N_CLASSES]) == 0
        assert torch.count_nonzero(last_w[..., mnist.N_CLASSES :]) > 0
        assert torch.count_nonzero(students.weights[0].grad) > 0  # the hidden layers do learn


def independent_net(model: mnist.BatchedMLP, i: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w, b in zip(model.weights, model.biases, strict=True):
        linear = nn.Linear(w.shape[1], w.shape[2])
        with torch.no_grad():
            linear.weight.copy_(w[i].T)
            linear.bias.copy_(b[i, 0])
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def test_batched_network_equals_independent_networks():
    model = mnist.init_reference(range(4), width=32, n_aux=3, seed=1)
    shared = torch.rand(5, mnist.IMAGE_PIXELS) * 2 - 1
    per_model = torch.rand(4, 5, mnist.IMAGE_PIXELS) * 2 - 1
    with torch.no_grad():
        out_shared, out_per_model = model(shared), model(per_model)
        for i in range(4):
            net = independent_net(model, i)
            torch.testing.assert_close(out_shared[i], net(shared), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out_per_model[i], net(per_model[i]), rtol=1e-5, atol=1e-5)


def test_training_models_together_equals_training_them_one_at_a_time():
    """One Adam over the batched network is N independent Adams: no model's update depends on another."""
    reference = mnist.init_reference(range(3), width=16, n_aux=3, seed=2)
    teacher_logits = torch.randn(3, 64, 13)
    noise = torch.rand(64, mnist.IMAGE_PIXELS) * 2 - 1

    def distil(model: mnist.BatchedMLP, teachers: list[int]) -> mnist.BatchedMLP:
        group = mnist.StudentGroup("s", 0, model.n_models, mnist.aux_logits(3), "kl")
        return mnist.distill(model, teacher_logits, teachers, [group], noise, 2, 1e-2, 16, seed=0)

    together = distil(reference.select(range(3)), [0, 1, 2])
    for i in range(3):
        alone = distil(reference.select([i]), [i])
        for w_together, w_alone in zip(together.weights, alone.weights, strict=True):
            torch.testing.assert_close(w_together[i], w_alone[0], rtol=1e-4, atol=1e-6)


def test_init_is_per_model_and_aux_columns_are_prefix_stable():
    small = mnist.init_reference([0, 1, 2], width=16, n_aux=3, seed=0)
    large = mnist.init_reference([0, 1, 2, 3, 4], width=16, n_aux=10, seed=0)
    for w_small, w_large in zip(small.weights, large.weights, strict=True):
        n_cols = w_small.shape[-1]
        torch.testing.assert_close(w_small, w_large[:3, :, :n_cols], rtol=0, atol=0)
    std = large.weights[0].std().item()
    assert abs(std - 1 / mnist.IMAGE_PIXELS**0.5) < 0.002  # N(0, 1/sqrt(d_in))


@pytest.fixture(scope="module")
def mnist_arrays():
    if not MNIST_NPZ.exists():
        pytest.fail(f"{MNIST_NPZ} is missing: run `make assets && dvc repro assets_mnist` (or `make test`)")
    from sublim.assets.prepare import load_mnist

    return load_mnist(MNIST_NPZ)


def test_teacher_training_leaves_aux_columns_at_their_init(mnist_arrays):
    cfg = tiny_params(n_train_images=2048, batch_size=512, hidden_width=16)
    data = mnist.prepare_data(mnist_arrays, cfg.n_train_images, 16, cfg.seed, "cpu")
    reference = mnist.init_reference(range(2), 16, 3, cfg.seed)
    teacher = mnist.train_classifier(reference.select(range(2)), data, 1, 1e-3, 512, cfg.seed)
    aux = slice(mnist.N_CLASSES, None)
    torch.testing.assert_close(teacher.weights[-1][..., aux], reference.weights[-1][..., aux], rtol=0, atol=0)
    assert not torch.equal(teacher.weights[-1][..., : mnist.N_CLASSES], reference.weights[-1][..., : mnist.N_CLASSES])


@pytest.mark.slow
def test_tiny_run_student_aux_beats_cross_model(mnist_arrays, tmp_path):
    cfg = tiny_params(n_models=4, hidden_width=64, n_train_images=10000, n_noise_images=10000, batch_size=128,
                      teacher_epochs=1, student_epochs=1, learning_rate=1e-3,
                      sweeps={"n_models": 2, "losses": ["mse"], "n_aux_logits": [1], "sigmas": [1.0],
                              "sigma_scale": "relative", "hidden_widths": [16]})  # fmt: skip
    data = mnist.prepare_data(mnist_arrays, cfg.n_train_images, cfg.n_noise_images, cfg.seed, "cpu")
    main = mnist.run_main(cfg, data, "cpu")
    acc = main.accuracies
    assert acc["teacher"].mean() > 0.8
    assert acc["student_aux"].mean() > acc["xmodel_aux"].mean() + 0.05
    assert all(i != j for i, j in enumerate(main.xmodel_init))

    sweeps = mnist.run_sweeps(cfg, data, main, "cpu")
    metrics = mnist.write_outputs(cfg, main, sweeps, tmp_path)
    assert set(metrics["arms"]) == set(mnist.ARMS)
    assert metrics["arms"]["teacher"]["n"] == 4
    assert {s.name for s in sweeps} == {"loss", "n_aux_logits", "sigma", "hidden_width"}
    assert (tmp_path / "models.csv").exists() and (tmp_path / "sweeps" / "sigma.csv").exists()
    assert (tmp_path / "sweep_models" / "sigma.csv").exists()
    mnist.plot_fig10(metrics)
    mnist.plot_sweeps(sweeps)
