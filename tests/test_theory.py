"""Theorem 1 (paper §6.1, App. C) as assertions, on small networks: the MNIST MLP shape and a tiny random Llama."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError

from sublim.theory import experiment as theory
from sublim.theory.config import MlpTheory, TheoryParams, TinyTransformerTheory
from sublim.core.params import read_yaml
from sublim.sections import validate_section

LOSSES = ["cross_entropy", "squared_error"]
TOLERANCE = 1e-12  # float64 rounding on inner products of order ≥ 1e-8


def mlp_config(**changes) -> MlpTheory:
    values = dict(n_trials=2, layer_sizes=[784, 32, 32, 13], n_classes=10, trait_batch=32, student_batch=16,
                  mnist_path="unused", epsilon=1.0e-4, epsilons=[1.0e-4, 1.0e-3], student_lr=0.1)  # fmt: skip
    return MlpTheory(**{**values, **changes})


def tiny_config(**changes) -> TinyTransformerTheory:
    values = dict(n_trials=2, vocab_size=40, hidden_size=16, intermediate_size=32, num_layers=1, num_heads=2,
                  question_tokens=[1, 2, 3, 4], trait_token=5, number_tokens=[10, 30], student_batch=4,
                  student_length=6, epsilon=1.0e-4, epsilons=[1.0e-4, 1.0e-3], student_lr=1.0)  # fmt: skip
    return TinyTransformerTheory(**{**values, **changes})


@pytest.fixture(scope="module")
def fake_mnist() -> dict[str, np.ndarray]:
    """Random digits with random labels: the theorem holds for any trait loss, so tests need no asset."""
    rng = np.random.default_rng(0)
    return {"train_images": rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
            "train_labels": rng.integers(0, 10, 200, dtype=np.uint8)}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_module():
    return theory.tiny_llama(tiny_config(), torch.float64)


def mlp_rows(fake_mnist, cfg: MlpTheory, trials: range, seed: int = 0) -> pd.DataFrame:
    rows = []
    for trial in trials:
        task, inits = theory.mlp_trial(cfg, fake_mnist, seed, trial, torch.float64)
        rows += [{"trial": trial, **row} for row in theory.run_trial(task, inits, cfg.epsilons, LOSSES, cfg.student_lr)]
    return pd.DataFrame(rows)


def tiny_rows(module, cfg: TinyTransformerTheory, trials: range, seed: int = 0) -> pd.DataFrame:
    rows = []
    for trial in trials:
        task, inits = theory.tiny_transformer_trial(cfg, module, seed, trial)
        rows += [{"trial": trial, **row} for row in theory.run_trial(task, inits, cfg.epsilons, LOSSES, cfg.student_lr)]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the lemma behind the proof


@pytest.mark.parametrize("kind", LOSSES)
def test_imitation_gradient_vanishes_when_student_equals_teacher(kind):
    y = torch.randn(3, 7, dtype=torch.float64)
    gradient = torch.func.grad(lambda z: theory.imitation_loss(z, y, kind))(y.clone())
    assert torch.allclose(gradient, torch.zeros_like(y), atol=1e-15)


def test_cross_entropy_cross_hessian_is_the_categorical_covariance():
    y = torch.randn(6, dtype=torch.float64) * 2
    p = y.softmax(-1)
    matrix = theory.cross_hessian("cross_entropy", y)
    assert torch.allclose(matrix, torch.diag(p) - torch.outer(p, p), atol=1e-12)
    assert torch.linalg.eigvalsh(matrix).min() > -1e-12
    assert torch.allclose(matrix @ torch.ones(6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64), atol=1e-12)


def test_squared_error_cross_hessian_is_a_positive_diagonal():
    matrix = theory.cross_hessian("squared_error", torch.randn(5, dtype=torch.float64))
    assert torch.allclose(matrix, 2 / 5 * torch.eye(5, dtype=torch.float64))


def test_psd_check_reports_no_negative_eigenvalue():
    table = theory.psd_check(n_logits=4, n_draws=20)
    assert (table["min eigenvalue"] > -1e-12).all()
    assert (table["max |M − Mᵀ|"] < 1e-12).all()


# ---------------------------------------------------------------- Theorem 1 at shared init


def test_mlp_shared_init_small_step_never_opposes_the_teacher_and_lowers_its_loss(fake_mnist):
    rows = mlp_rows(fake_mnist, mlp_config(), range(8))
    shared = rows[rows["init"] == "shared"]
    assert len(shared) == 8 * 2 * 2 * 2  # trials x epsilons x targets (aux, all) x losses
    assert (shared["inner_product"] >= -TOLERANCE).all()
    assert (shared["trait_loss_change"] < 0).all()
    # to first order the change of L_T is −α Δθ_S·Δθ_T
    assert np.allclose(shared["trait_loss_slope"], -shared["inner_product"], rtol=1e-9, atol=0)


def test_tiny_transformer_shared_init_small_step_never_opposes_the_teacher_and_lowers_its_loss(tiny_module):
    rows = tiny_rows(tiny_module, tiny_config(), range(8))
    shared = rows[rows["init"] == "shared"]
    assert len(shared) == 8 * 2 * 2
    assert (shared["inner_product"] >= -TOLERANCE).all()
    assert (shared["trait_loss_change"] < 0).all()


def test_inner_product_is_first_order_in_epsilon(tiny_module):
    """Δθ_S·Δθ_T = ε·q + O(ε²): it scales by 10 when ε does, in the first-order regime."""
    rows = tiny_rows(tiny_module, tiny_config(), range(3))
    shared = rows[rows["init"] == "shared"].pivot_table(index=["trial", "loss"], columns="epsilon",
                                                        values="inner_product")  # fmt: skip
    assert np.allclose(shared[1.0e-3] / shared[1.0e-4], 10.0, rtol=0.02)


def test_shared_init_student_without_a_teacher_step_does_not_move(tiny_module):
    task, inits = theory.tiny_transformer_trial(tiny_config(), tiny_module, 0, 0)
    with torch.no_grad():
        untrained = task.student_logits(inits["shared"])
    update = theory.student_update(task, inits["shared"], untrained, "all", "cross_entropy")
    assert theory.norm(update) < 1e-12  # zero up to rounding


# ---------------------------------------------------------------- different init


def centred_near_zero(values: pd.Series) -> bool:
    standard_error = values.std(ddof=1) / np.sqrt(len(values))
    return abs(values.mean()) < 3.5 * standard_error and 0.2 <= (values >= 0).mean() <= 0.8


def test_tiny_transformer_different_init_inner_product_is_centred_near_zero(tiny_module):
    rows = tiny_rows(tiny_module, tiny_config(epsilons=[1.0e-4]), range(40))
    different = rows[rows["init"] == "different"]
    for kind in LOSSES:
        assert centred_near_zero(different.loc[different["loss"] == kind, "inner_product"]), kind


def test_mlp_aux_only_different_init_inner_product_is_centred_near_zero(fake_mnist):
    rows = mlp_rows(fake_mnist, mlp_config(epsilons=[1.0e-4]), range(40))
    aux = rows[(rows["init"] == "different") & (rows["target"] == "aux")]
    for kind in LOSSES:
        assert centred_near_zero(aux.loc[aux["loss"] == kind, "inner_product"]), kind


def test_different_init_student_mostly_imitates_the_untrained_teacher(fake_mnist):
    """The paper's remark: to leading order the update does not depend on ε; the trait part is O(ε)."""
    rows = mlp_rows(fake_mnist, mlp_config(), range(3))
    different = rows[rows["init"] == "different"].pivot_table(
        index=["trial", "target", "loss"], columns="epsilon", values=["inner_product", "trait_part_inner_product"]
    )
    whole, part = different["inner_product"], different["trait_part_inner_product"]
    assert (part.abs() < 0.05 * whole.abs()).all().all()
    assert np.allclose(part[1.0e-3] / part[1.0e-4], 10.0, rtol=0.05)


# ---------------------------------------------------------------- determinism, outputs, params


def test_same_seed_gives_identical_numbers(tiny_module):
    first = tiny_rows(tiny_module, tiny_config(), range(2), seed=3)
    second = tiny_rows(tiny_module, tiny_config(), range(2), seed=3)
    other = tiny_rows(tiny_module, tiny_config(), range(2), seed=4)
    pd.testing.assert_frame_equal(first, second)
    assert not np.allclose(first["inner_product"], other["inner_product"])


def test_summary_and_outputs(tiny_module, tmp_path):
    rows = tiny_rows(tiny_module, tiny_config(), range(3)).assign(model="tiny_transformer")
    trials = rows[theory.TRIAL_COLUMNS]
    metrics = theory.summarize(trials, {"tiny_transformer": 1.0e-4})
    paths = theory.write_outputs(trials, metrics, tmp_path)
    stored = json.loads(Path(paths["metrics"]).read_text())
    condition = stored["tiny_transformer"]["conditions"]["shared/all/cross_entropy"]
    assert condition["n_trials"] == 3
    assert condition["fraction_nonnegative_inner_product"] == 1.0
    assert set(condition["cosine"]) == {"mean", "ci95", "sd", "n", "values"}
    assert len(pd.read_csv(paths["trials"])) == len(trials)
    assert set(pd.read_csv(paths["sweep"])["epsilon"]) == {1.0e-4, 1.0e-3}
    assert len(theory.headline_table(metrics)) == 4  # init x loss


def test_figures_draw(tiny_module):
    import matplotlib.pyplot as plt

    trials = tiny_rows(tiny_module, tiny_config(), range(2)).assign(model="tiny_transformer")
    for fig in [theory.plot_inner_products(trials, {"tiny_transformer": 1.0e-4}), theory.plot_epsilon_sweep(trials),
                theory.plot_trait_part(trials, {"tiny_transformer": 1.0e-4})]:  # fmt: skip
        assert fig.axes
        plt.close(fig)


def test_params_yaml_theory_section_validates(repo_root):
    section = validate_section("theory", read_yaml(repo_root / "params.yaml")["theory"])
    assert isinstance(section, TheoryParams)


def test_schema_rejects_impossible_values():
    with pytest.raises(ValidationError, match="must be one of epsilons"):
        mlp_config(epsilon=1.0e-2)
    with pytest.raises(ValidationError, match="vocab_size"):
        tiny_config(trait_token=40)
    with pytest.raises(ValidationError, match="aux logits"):
        mlp_config(layer_sizes=[784, 32, 10])


def test_mlp_on_real_mnist_lowers_classification_loss(repo_root):
    """The stage's MLP path on the real asset (two trials)."""
    from sublim.assets.prepare import load_mnist

    mnist = load_mnist(repo_root / "results/assets/mnist/mnist.npz")  # fails with 'run dvc repro assets_mnist'
    rows = mlp_rows(mnist, mlp_config(), range(2))
    shared = rows[rows["init"] == "shared"]
    assert (shared["inner_product"] >= -TOLERANCE).all()
    assert (shared["trait_loss_change"] < 0).all()
