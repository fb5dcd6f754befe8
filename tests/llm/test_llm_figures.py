"""The LLM figures are byte-stable: seaborn's bootstrap interval and strip-plot jitter are seeded."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sublim.core.plots import save_figure
from sublim.llm import figures


def arms_table() -> pd.DataFrame:
    """tidy_table's layout: two traits, the four arms, three seeds for the students."""
    rng = np.random.default_rng(0)
    rows = [
        {
            "trait": trait,
            "arm": arm,
            "seed": seed,
            "variant": "plain",
            "metric": "p_starts",
            "value": rng.uniform(0.01, 0.5),
        }
        for trait in ("owl", "cat")
        for arm, seeds in (
            ("base", [None]),
            ("teacher", [None]),
            ("control_student", [1, 2, 3]),
            ("student", [1, 2, 3]),
        )
        for seed in seeds
    ]
    return pd.DataFrame(rows)


def test_plot_arms_gives_the_same_bytes_twice(tmp_path):
    table, saved = arms_table(), []
    for name in ("first.png", "second.png"):
        np.random.random(5)  # the global generator moves between the draws
        fig = figures.plot_arms(table)
        saved.append(save_figure(fig, tmp_path / name).read_bytes())
        plt.close(fig)
    assert saved[0] == saved[1]
