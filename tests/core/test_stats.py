"""Intervals over units: the t interval and its degenerate cases, and the bootstrap of sampled-answer rates."""

from __future__ import annotations

import numpy as np
import pytest

from sublim.core.stats import bootstrap_rates, compare, estimate, is_degenerate


def test_estimate_and_its_degenerate_cases():
    three = estimate([1.0, 2.0, 3.0])
    assert three["mean"] == 2.0 and three["n"] == 3 and three["ci95"][0] < 2.0 < three["ci95"][1]
    assert not is_degenerate(three)
    assert estimate([0.5])["ci95"] == [None, None] and is_degenerate(estimate([0.5]))
    assert is_degenerate(estimate([0.2, 0.2, 0.2]))  # every unit the same: a zero-width interval
    with pytest.raises(ValueError):
        estimate([])


def test_a_paired_test_of_differences_that_do_not_vary_is_undefined():
    same = compare([0.04, 0.04], [0.02, 0.02])
    assert same["difference"]["ci95"] == pytest.approx([0.02, 0.02]) and same["p_value"] is None
    varied = compare([0.05, 0.04, 0.06], [0.02, 0.02, 0.03])
    assert varied["p_value"] is not None and 0 < varied["p_value"] < 0.05 and varied["n_positive"] == 3
    welch = compare([0.05, 0.04, 0.06], [0.02, 0.02, 0.03, 0.01], paired=False)
    assert welch["test"] == "Welch t-test" and welch["difference"]["ci95"][0] > 0


def rates(p: float, units: int, questions: int, samples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).binomial(samples, p, (units, questions)) / samples


def test_bootstrap_covers_the_true_difference_and_is_reproducible():
    treated, control = rates(0.30, 3, 50, 20, 1), rates(0.10, 3, 50, 20, 2)
    result = bootstrap_rates(treated, control, 20, seed=0, resamples=1000)
    diff = result["difference"]
    assert diff["ci95"][0] < 0.20 < diff["ci95"][1] and diff["ci95"][0] > 0
    assert diff["n"] == 3 and diff["method"].startswith("bootstrap over seeds, questions and sampled answers")
    assert result == bootstrap_rates(treated, control, 20, seed=0, resamples=1000)
    null = bootstrap_rates(rates(0.2, 3, 50, 20, 3), rates(0.2, 3, 50, 20, 4), 20, seed=0, resamples=1000)
    assert null["difference"]["ci95"][0] < 0 < null["difference"]["ci95"][1]


def test_bootstrap_against_one_reference_model_and_without_any_hit():
    teacher = rates(0.5, 1, 25, 4, 5)
    base = rates(0.05, 1, 25, 4, 6)[0]  # one rate per question
    result = bootstrap_rates(teacher, base, 4, seed=0, resamples=500)
    assert result["difference"]["n"] == 25 and result["difference"]["values"] is None  # questions are the units
    assert result["difference"]["ci95"][0] > 0
    nothing = bootstrap_rates(np.zeros((3, 25)), np.zeros((3, 25)), 2, seed=0, resamples=200)
    assert nothing["difference"]["ci95"] == [0.0, 0.0] and is_degenerate(nothing["difference"])


def test_bootstrap_needs_matching_shapes():
    with pytest.raises(ValueError, match="questions"):
        bootstrap_rates(np.zeros((3, 25)), np.zeros((3, 24)), 2, seed=0)
    with pytest.raises(ValueError, match="paired units"):
        bootstrap_rates(np.zeros((3, 25)), np.zeros((2, 25)), 2, seed=0)
    with pytest.raises(ValueError, match="sample"):
        bootstrap_rates(np.zeros((3, 25)), np.zeros((3, 25)), 0, seed=0)
