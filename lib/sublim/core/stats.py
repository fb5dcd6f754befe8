"""Intervals and tests as careful replications report them: seeds (or models) are the unit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats


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
    sd = float(x.std(ddof=1))
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n))
    return {"mean": mean, "ci95": [mean - half, mean + half], "sd": sd, "n": n, "values": x.tolist()}


def compare(treated: Sequence[float], control: Sequence[float], paired: bool = True) -> dict[str, Any]:
    """Difference treated - control with its 95% interval and a two-sided t-test.

    Paired by position (the same seed in both arms) when `paired`, else Welch's unequal-variance test.
    """
    a, b = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired comparison needs equal lengths, got {a.size} and {b.size}")
        p = scipy_stats.ttest_rel(a, b).pvalue if a.size > 1 else None
        return {
            "difference": estimate(a - b),
            "p_value": _float(p),
            "test": "paired t-test",
            "n_positive": int(np.sum(a > b)),
        }
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
