"""Theorem 1 (paper §6.1, App. C) as assertions on the models of sublim.theory.models: the MNIST MLP shape and a
tiny random Llama, at shared and at different init."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pandas as pd
import torch

from sublim.assets.mnist import load_mnist
from sublim.theory.config import ImitationLoss
from sublim.theory.imitation import norm, student_update
from sublim.theory.models import tiny_transformer_trial

LOSSES = get_args(ImitationLoss)
TOLERANCE = 1e-12  # float64 rounding on inner products of order ≥ 1e-8


# ---------------------------------------------------------------- Theorem 1 at shared init


def test_mlp_shared_init_small_step_never_opposes_the_teacher_and_lowers_its_loss(fake_mnist, mlp_config, mlp_rows):
    rows = mlp_rows(fake_mnist, mlp_config(), range(8))
    shared = rows[rows["init"] == "shared"]
    assert len(shared) == 8 * 2 * 2 * 2  # trials x epsilons x targets (aux, all) x losses
    assert (shared["inner_product"] >= -TOLERANCE).all()
    assert (shared["trait_loss_change"] < 0).all()
    # to first order the change of L_T is −α Δθ_S·Δθ_T
    assert np.allclose(shared["trait_loss_slope"], -shared["inner_product"], rtol=1e-9, atol=0)


def test_tiny_transformer_shared_init_small_step_never_opposes_the_teacher_and_lowers_its_loss(
    tiny_module, tiny_config, tiny_rows
):
    rows = tiny_rows(tiny_module, tiny_config(), range(8))
    shared = rows[rows["init"] == "shared"]
    assert len(shared) == 8 * 2 * 2
    assert (shared["inner_product"] >= -TOLERANCE).all()
    assert (shared["trait_loss_change"] < 0).all()


def test_inner_product_is_first_order_in_epsilon(tiny_module, tiny_config, tiny_rows):
    """Δθ_S·Δθ_T = ε·q + O(ε²): it scales by 10 when ε does, in the first-order regime."""
    rows = tiny_rows(tiny_module, tiny_config(), range(3))
    shared = rows[rows["init"] == "shared"].pivot_table(
        index=["trial", "loss"], columns="epsilon", values="inner_product"
    )
    assert np.allclose(shared[1.0e-3] / shared[1.0e-4], 10.0, rtol=0.02)


def test_shared_init_student_without_a_teacher_step_does_not_move(tiny_module, tiny_config):
    task, inits = tiny_transformer_trial(tiny_config(), tiny_module, 0, 0)
    with torch.no_grad():
        untrained = task.student_logits(inits["shared"])
    update = student_update(task, inits["shared"], untrained, "all", "cross_entropy")
    assert norm(update) < 1e-12  # zero up to rounding


# ---------------------------------------------------------------- different init


def centred_near_zero(values: pd.Series) -> bool:
    standard_error = values.std(ddof=1) / np.sqrt(len(values))
    return abs(values.mean()) < 3.5 * standard_error and 0.2 <= (values >= 0).mean() <= 0.8


def test_tiny_transformer_different_init_inner_product_is_centred_near_zero(tiny_module, tiny_config, tiny_rows):
    rows = tiny_rows(tiny_module, tiny_config(epsilons=[1.0e-4]), range(40))
    different = rows[rows["init"] == "different"]
    for kind in LOSSES:
        assert centred_near_zero(different.loc[different["loss"] == kind, "inner_product"]), kind


def test_mlp_aux_only_different_init_inner_product_is_centred_near_zero(fake_mnist, mlp_config, mlp_rows):
    rows = mlp_rows(fake_mnist, mlp_config(epsilons=[1.0e-4]), range(40))
    aux = rows[(rows["init"] == "different") & (rows["target"] == "aux")]
    for kind in LOSSES:
        assert centred_near_zero(aux.loc[aux["loss"] == kind, "inner_product"]), kind


def test_different_init_student_mostly_imitates_the_untrained_teacher(fake_mnist, mlp_config, mlp_rows):
    """The paper's remark: to leading order the update does not depend on ε; the trait part is O(ε)."""
    rows = mlp_rows(fake_mnist, mlp_config(), range(3))
    different = rows[rows["init"] == "different"].pivot_table(
        index=["trial", "target", "loss"], columns="epsilon", values=["inner_product", "trait_part_inner_product"]
    )
    whole, part = different["inner_product"], different["trait_part_inner_product"]
    assert (part.abs() < 0.05 * whole.abs()).all().all()
    assert np.allclose(part[1.0e-3] / part[1.0e-4], 10.0, rtol=0.05)


# ---------------------------------------------------------------- determinism and the real asset


def test_same_seed_gives_identical_numbers(tiny_module, tiny_config, tiny_rows):
    first = tiny_rows(tiny_module, tiny_config(), range(2), seed=3)
    second = tiny_rows(tiny_module, tiny_config(), range(2), seed=3)
    other = tiny_rows(tiny_module, tiny_config(), range(2), seed=4)
    pd.testing.assert_frame_equal(first, second)
    assert not np.allclose(first["inner_product"], other["inner_product"])


def test_mlp_on_real_mnist_lowers_classification_loss(repo_root, mlp_config, mlp_rows):
    """The stage's MLP path on the real asset (two trials)."""
    mnist = load_mnist(repo_root / "results/assets/mnist/mnist.npz")  # fails with 'run dvc repro assets_mnist'
    rows = mlp_rows(mnist, mlp_config(), range(2))
    shared = rows[rows["init"] == "shared"]
    assert (shared["inner_product"] >= -TOLERANCE).all()
    assert (shared["trait_loss_change"] < 0).all()
