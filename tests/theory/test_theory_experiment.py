"""The stage's summaries, files and figures (sublim.theory.experiment and sublim.theory.figures)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sublim.core.plots import save_figure
from sublim.theory import experiment, figures


def test_summary_and_outputs(tiny_module, tiny_config, tiny_rows, tmp_path):
    rows = tiny_rows(tiny_module, tiny_config(), range(3)).assign(model="tiny_transformer")
    trials = rows[experiment.TRIAL_COLUMNS]
    metrics = experiment.summarise(trials, {"tiny_transformer": 1.0e-4})
    paths = experiment.write_outputs(trials, metrics, tmp_path)
    stored = json.loads(Path(paths["metrics"]).read_text())
    condition = stored["tiny_transformer"]["conditions"]["shared/all/cross_entropy"]
    assert condition["n_trials"] == 3
    assert condition["fraction_nonnegative_inner_product"] == 1.0
    assert set(condition["cosine"]) == {"mean", "ci95", "sd", "n", "values"}
    assert len(pd.read_csv(paths["trials"])) == len(trials)
    assert set(pd.read_csv(paths["sweep"])["epsilon"]) == {1.0e-4, 1.0e-3}
    assert len(experiment.headline_table(metrics)) == 4  # init x loss


def test_figures_draw(tiny_module, tiny_config, tiny_rows):
    trials = tiny_rows(tiny_module, tiny_config(), range(2)).assign(model="tiny_transformer")
    epsilons = {"tiny_transformer": 1.0e-4}
    drawn = [
        figures.plot_inner_products(trials, epsilons),
        figures.plot_epsilon_sweep(trials),
        figures.plot_trait_part(trials, epsilons),
    ]
    for fig in drawn:
        assert fig.axes
        plt.close(fig)


def test_figures_with_jitter_or_bootstrap_give_the_same_bytes_twice(tiny_module, tiny_config, tiny_rows, tmp_path):
    trials = tiny_rows(tiny_module, tiny_config(), range(3)).assign(model="tiny_transformer")
    epsilons = {"tiny_transformer": 1.0e-4}
    for name, draw in (
        ("inner_products", lambda: figures.plot_inner_products(trials, epsilons)),  # strip-plot jitter
        ("epsilon_sweep", lambda: figures.plot_epsilon_sweep(trials)),  # bootstrap intervals
    ):
        saved = []
        for run in range(2):
            np.random.random(5)  # the global generator moves between the draws
            fig = draw()
            saved.append(save_figure(fig, tmp_path / f"{name}{run}.png").read_bytes())
            plt.close(fig)
        assert saved[0] == saved[1], name
