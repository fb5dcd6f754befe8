"""The lemma behind Theorem 1 (sublim.theory.imitation): the imitation loss, its cross-Hessian, parameter dicts."""

from __future__ import annotations

from typing import get_args

import pytest
import torch

from sublim.theory.config import ImitationLoss
from sublim.theory.imitation import add_scaled, cosine, cross_hessian, dot, imitation_loss, norm, psd_check


@pytest.mark.parametrize("kind", get_args(ImitationLoss))
def test_imitation_gradient_vanishes_when_student_equals_teacher(kind):
    y = torch.randn(3, 7, dtype=torch.float64)
    gradient = torch.func.grad(lambda z: imitation_loss(z, y, kind))(y.clone())
    assert torch.allclose(gradient, torch.zeros_like(y), atol=1e-15)


def test_unknown_imitation_loss_is_refused():
    with pytest.raises(ValueError, match="unknown imitation loss"):
        imitation_loss(torch.zeros(2, 3), torch.zeros(2, 3), "hinge")


def test_cross_entropy_cross_hessian_is_the_categorical_covariance():
    y = torch.randn(6, dtype=torch.float64) * 2
    p = y.softmax(-1)
    matrix = cross_hessian("cross_entropy", y)
    assert torch.allclose(matrix, torch.diag(p) - torch.outer(p, p), atol=1e-12)
    assert torch.linalg.eigvalsh(matrix).min() > -1e-12
    assert torch.allclose(matrix @ torch.ones(6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64), atol=1e-12)


def test_squared_error_cross_hessian_is_a_positive_diagonal():
    matrix = cross_hessian("squared_error", torch.randn(5, dtype=torch.float64))
    assert torch.allclose(matrix, 2 / 5 * torch.eye(5, dtype=torch.float64))


def test_psd_check_reports_no_negative_eigenvalue():
    table = psd_check(n_logits=4, n_draws=20)
    assert (table["min eigenvalue"] > -1e-12).all()
    assert (table["max |M − Mᵀ|"] < 1e-12).all()


def test_parameter_dict_arithmetic_is_leaf_by_leaf():
    a = {"w": torch.tensor([3.0, 0.0]), "b": torch.tensor([4.0])}
    b = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.0])}
    assert dot(a, b) == 3.0
    assert norm(a) == 5.0
    assert add_scaled(a, b, 2.0)["w"].tolist() == [5.0, 4.0]
    assert cosine(a, {name: -value for name, value in a.items()}) == pytest.approx(-1.0)
    assert cosine(a, {name: torch.zeros_like(value) for name, value in a.items()}) == 0.0
