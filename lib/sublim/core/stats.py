"""Intervals and tests as careful replications report them: seeds (or models) are the unit.

- `estimate`: a mean with its Student-t interval over independent units.
- `compare`: treated − control, paired t (or Welch), over units.
- `bootstrap_rates`: treated − control for sampled-answer rates (a share of m sampled answers per question),
  resampling units (seeds, paired), questions (paired) and the answers within each question. With few samples a
  rate is discrete and a t interval over two or three seeds is either huge or zero-width; the bootstrap's
  interval also covers the question and sampling noise. Every interval says how it was made (`method`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

T_METHOD = "Student t over units"
BOOTSTRAP_METHOD = "bootstrap over {units}sampled answers ({resamples} resamples, percentile)"


def estimate(values: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean with a Student-t confidence interval over independent units (seeds, models).

    The one structure every metrics file uses for a quantity measured over several units:
    {"mean", "ci95": [low, high], "sd", "n", "values"}. With n = 1 the interval is [null, null].
    """
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        raise ValueError("estimate() needs at least one value")
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "ci95": [None, None], "sd": None, "n": 1, "values": x.tolist()}
    sd = 0.0 if np.all(x == x[0]) else float(x.std(ddof=1))  # identical units: no rounding-noise width
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n))
    return {"mean": mean, "ci95": [mean - half, mean + half], "sd": sd, "n": n, "values": x.tolist()}


def zero_width(low: float, high: float) -> bool:
    """An interval without a width, up to floating-point rounding (relative 1e-9: the same value computed two
    ways, e.g. 0.05 − 0.03 and 0.04 − 0.02, differs by ~1e-17)."""
    return not high - low > 1e-9 * max(abs(low), abs(high))


def is_degenerate(node: dict[str, Any]) -> bool:
    """True when an estimate has no interval or a zero-width one (n < 2, or every unit gave the same value)."""
    low, high = (node.get("ci95") or [None, None])[:2]
    return low is None or high is None or zero_width(low, high)


def compare(treated: Sequence[float], control: Sequence[float], paired: bool = True) -> dict[str, Any]:
    """Difference treated - control with its 95% interval and a two-sided t-test.

    Paired by position (the same seed in both arms) when `paired`, else Welch's unequal-variance test. The
    p-value is None when the test is undefined (one pair, or differences that do not vary).
    """
    a, b = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired comparison needs equal lengths, got {a.size} and {b.size}")
        difference = estimate(a - b)
        # a t-test of differences that do not vary (n = 1, or every unit the same) is undefined, not p = 0
        p = scipy_stats.ttest_rel(a, b).pvalue if not is_degenerate(difference) else None
        positive = int(np.sum(a > b))
        return {"difference": difference, "p_value": _float(p), "test": "paired t-test", "n_positive": positive}
    welch = scipy_stats.ttest_ind(a, b, equal_var=False) if min(a.size, b.size) > 1 else None
    low, high = welch.confidence_interval() if welch is not None else (None, None)
    difference = {
        "mean": float(a.mean() - b.mean()),
        "ci95": [_float(low), _float(high)],
        "sd": None,
        "n": int(a.size + b.size),
        "values": None,
    }
    return {
        "difference": difference,
        "p_value": _float(welch.pvalue if welch else None),
        "test": "Welch t-test",
        "n_positive": None,
    }


def _float(value: Any) -> float | None:
    """JSON-safe float: NaN and infinities (e.g. a t-test on constant values) become None."""
    return None if value is None or not np.isfinite(float(value)) else float(value)


def bootstrap_rates(
    treated: Sequence[Sequence[float]],
    control: Sequence[Sequence[float]] | Sequence[float],
    samples_per_question: int,
    *,
    seed: int,
    resamples: int = 2000,
    confidence: float = 0.95,
    units: str = "seeds",
) -> dict[str, Any]:
    """Mean rate of `treated` − mean rate of `control`, with a bootstrap interval (the `compare` structure).

    `treated[u][q]` is unit u's rate on question q: the share of its `samples_per_question` sampled answers that
    name the trait. `control` is the same per unit (paired with `treated` by unit: the same seed) or, for a single
    reference model such as the base, one rate per question. Each resample draws the units with replacement
    (the same draw for both arms), the questions with replacement (the same draw for both arms, every unit), and
    each chosen cell's answers anew (binomial at the cell's rate). With one treated unit (a teacher) the questions
    are the units of the rule (`n`).
    """
    a = np.asarray(treated, dtype=float)
    b = np.asarray(control, dtype=float)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[-1] != a.shape[1]:
        raise ValueError(f"expected units x questions arrays with the same questions, got {a.shape} and {b.shape}")
    if b.ndim == 2 and b.shape[0] != a.shape[0]:
        raise ValueError(f"paired units: {a.shape[0]} treated units but {b.shape[0]} control units")
    if samples_per_question < 1:
        raise ValueError("a bootstrap of sampled rates needs at least one sample per question")
    b = b if b.ndim == 2 else np.broadcast_to(b, (1, a.shape[1]))
    rng = np.random.default_rng(seed)
    n_units, n_questions = a.shape
    unit_draw = rng.integers(0, n_units, (resamples, n_units)) if n_units > 1 else np.zeros((resamples, 1), int)
    question_draw = rng.integers(0, n_questions, (resamples, n_questions))
    stats = _resampled_mean(a, unit_draw, question_draw, samples_per_question, rng)
    reference_units = unit_draw if b.shape[0] == n_units else np.zeros((resamples, 1), int)
    stats = stats - _resampled_mean(b, reference_units, question_draw, samples_per_question, rng)
    low, high = np.quantile(stats, [0.5 - confidence / 2, 0.5 + confidence / 2])
    point = float(a.mean() - b.mean())
    drawn = f"{units}, questions and " if n_units > 1 else "questions and "
    method = BOOTSTRAP_METHOD.format(units=drawn, resamples=resamples)
    difference = {
        "mean": point,
        "ci95": [float(low), float(high)],
        "sd": float(stats.std(ddof=1)),
        "n": n_units if n_units > 1 else n_questions,
        "values": (a.mean(axis=1) - b.mean(axis=1)).tolist() if n_units > 1 and b.shape[0] == n_units else None,
        "method": method,
        "resamples": resamples,
        "n_questions": n_questions,
        "samples_per_question": samples_per_question,
    }
    other_side = float(np.mean(stats <= 0) if point > 0 else np.mean(stats >= 0))
    return {"difference": difference, "p_value": min(1.0, 2 * other_side), "test": method, "n_positive": None}


def _resampled_mean(
    rates: np.ndarray, unit_draw: np.ndarray, question_draw: np.ndarray, m: int, rng: np.random.Generator
) -> np.ndarray:
    """Per resample: the mean over the drawn units and questions of each cell's rate, its answers redrawn."""
    cells = rates[unit_draw[:, :, None], question_draw[:, None, :]]  # resamples x units x questions
    redrawn = rng.binomial(m, np.clip(cells, 0.0, 1.0)) / m
    return redrawn.mean(axis=(1, 2))
