"""The experiment (sublim.mnist.experiment): cross-model pairing, and a tiny run through outputs and figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from sublim.core.seeds import torch_generator
from sublim.mnist import experiment, figures, outputs
from sublim.mnist.data import prepare_data


@pytest.mark.parametrize("n", [2, 3, 5, 10, 100])
def test_derangement_is_a_permutation_without_fixed_points(n):
    for seed in range(20):
        perm = experiment.derangement(n, torch_generator(seed))
        assert sorted(perm) == list(range(n))
        assert all(i != j for i, j in enumerate(perm))


def test_derangement_of_one_model_is_refused():
    with pytest.raises(ValueError, match="n >= 2"):
        experiment.derangement(1, torch_generator(0))


@pytest.mark.slow
def test_tiny_run_student_aux_beats_cross_model(mnist_arrays, tiny_params, tmp_path):
    sweeps = {
        "n_models": 2,
        "losses": ["mse"],
        "n_aux_logits": [1],
        "sigmas": [1.0],
        "sigma_scale": "relative",
        "hidden_widths": [16],
    }
    cfg = tiny_params(
        n_models=4,
        hidden_width=64,
        n_train_images=10000,
        n_noise_images=10000,
        batch_size=128,
        teacher_epochs=1,
        student_epochs=1,
        learning_rate=1e-3,
        sweeps=sweeps,
    )
    data = prepare_data(mnist_arrays, cfg.n_train_images, cfg.n_noise_images, cfg.seed, "cpu")
    main = experiment.run_main(cfg, data, "cpu")
    acc = main.accuracies
    assert acc["teacher"].mean() > 0.8
    assert acc["student_aux"].mean() > acc["xmodel_aux"].mean() + 0.05
    assert all(i != j for i, j in enumerate(main.xmodel_init))

    swept = experiment.run_sweeps(cfg, data, main, "cpu")
    metrics = outputs.write_outputs(cfg, main, swept, tmp_path)
    assert set(metrics["arms"]) == set(experiment.ARMS)
    assert metrics["arms"]["teacher"]["n"] == 4
    assert {s.name for s in swept} == {"loss", "n_aux_logits", "sigma", "hidden_width"}
    assert (tmp_path / "models.csv").exists() and (tmp_path / "sweeps" / "sigma.csv").exists()
    assert (tmp_path / "sweep_models" / "sigma.csv").exists()
    assert len(outputs.summary_table(metrics)) == len(experiment.ARMS)
    assert len(outputs.comparison_table(metrics)) == 4
    for fig in (figures.plot_fig10(metrics), figures.plot_sweeps(swept)):
        assert fig.axes
        plt.close(fig)
