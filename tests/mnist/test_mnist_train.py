"""Teacher training and distillation (sublim.mnist.train): gradients reach only what they should, per model."""

from __future__ import annotations

import torch

from sublim.mnist.data import IMAGE_PIXELS, N_CLASSES, model_input, prepare_data
from sublim.mnist.model import BatchedMLP, aux_logits, init_reference
from sublim.mnist.train import StudentGroup, distill, distill_loss, train_classifier


def test_aux_only_distillation_gives_class_logit_columns_zero_gradient():
    students = init_reference(range(3), width=16, n_aux=3, seed=0)
    teacher_logits = torch.randn(3, 8, 13)
    out = students(torch.rand(8, IMAGE_PIXELS) * 2 - 1)
    for loss in ("kl", "mse"):
        students.zero_grad()
        aux = aux_logits(3)
        distill_loss(out[..., aux], teacher_logits[..., aux], loss).backward(retain_graph=True)
        last_w, last_b = students.weights[-1].grad, students.biases[-1].grad
        assert torch.count_nonzero(last_w[..., :N_CLASSES]) == 0
        assert torch.count_nonzero(last_b[..., :N_CLASSES]) == 0
        assert torch.count_nonzero(last_w[..., N_CLASSES:]) > 0
        assert torch.count_nonzero(students.weights[0].grad) > 0  # the hidden layers do learn


def test_training_models_together_equals_training_them_one_at_a_time(single_thread):
    """One Adam over the batched network is N independent Adams: no model's update depends on another.

    Exact on one thread (`single_thread`); the tolerance leaves room for a BLAS that picks kernels by shape.
    """
    reference = init_reference(range(3), width=16, n_aux=3, seed=2)
    teacher_logits = torch.randn(3, 64, 13)
    noise = torch.rand(64, IMAGE_PIXELS) * 2 - 1

    def distil(model: BatchedMLP, teachers: list[int]) -> BatchedMLP:
        group = StudentGroup("s", 0, model.n_models, aux_logits(3), "kl")
        return distill(model, teacher_logits, teachers, [group], noise, 2, 1e-2, 16, seed=0)

    together = distil(reference.select(range(3)), [0, 1, 2])
    for i in range(3):
        alone = distil(reference.select([i]), [i])
        for w_together, w_alone in zip(together.model_major_weights(), alone.model_major_weights(), strict=True):
            torch.testing.assert_close(w_together[i], w_alone[0], rtol=1e-4, atol=1e-6)


def test_teacher_training_leaves_aux_columns_at_their_init(mnist_arrays, tiny_params):
    cfg = tiny_params(n_train_images=2048, batch_size=512, hidden_width=16)
    data = prepare_data(mnist_arrays, cfg.n_train_images, 16, cfg.seed, "cpu")
    reference = init_reference(range(2), 16, 3, cfg.seed)
    teacher = train_classifier(reference.select(range(2)), data, 1, 1e-3, 512, cfg.seed)
    aux = slice(N_CLASSES, None)
    torch.testing.assert_close(teacher.weights[-1][..., aux], reference.weights[-1][..., aux], rtol=0, atol=0)
    assert not torch.equal(teacher.weights[-1][..., :N_CLASSES], reference.weights[-1][..., :N_CLASSES])


def test_digits_stay_uint8_and_batches_are_scaled_as_the_official_transform(mnist_arrays):
    """Stored as bytes (a quarter of the memory); a batch as the models see it is ToTensor + Normalize(0.5, 0.5)."""
    data = prepare_data(mnist_arrays, 64, 8, 0, "cpu")
    assert data.train_x.dtype == data.test_x.dtype == torch.uint8
    official = torch.from_numpy(mnist_arrays["train_images"][:64].reshape(64, -1)).float() / 255.0
    torch.testing.assert_close(model_input(data.train_x), (official - 0.5) / 0.5, rtol=0, atol=1e-6)
    assert model_input(data.noise_x) is data.noise_x
