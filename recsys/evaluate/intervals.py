"""Uncertainty of offline figures across users: so "model A beats model B" carries an error bar.

Every model is scored on the same evaluated users, so a comparison is paired: the per-user
difference of a metric has far less variance than either model's metric. With hundreds of users
the means are close to normal (central limit), so Student's t is used for both:

* :func:`t_interval`: the interval of a model's mean per-user metric;
* :func:`paired_t`: the mean per-user difference, its interval and the two-sided p-value of the
  paired t-test (``scipy.stats.ttest_rel`` gives the same; tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) of the ``confidence`` t-interval of the mean of ``values`` (NaNs dropped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return float("nan"), float("nan")
    mean = float(v.mean())
    if n == 1:
        return mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * v.std(ddof=1) / np.sqrt(n)
    return mean - float(half), mean + float(half)


@dataclass(frozen=True)
class Paired:
    """A paired comparison: mean of ``a - b`` per user, its interval and the test's p-value."""

    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


def paired_t(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Paired:
    """Paired t-test of ``a`` against ``b`` (same users, same order); users with a NaN in either are
    dropped. Identical arrays give a difference of 0 with p-value 1."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return Paired(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    if sd == 0.0:
        return Paired(mean, mean, mean, 1.0 if mean == 0.0 else 0.0, n)
    se = sd / np.sqrt(n)
    t = mean / se
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * se)
    return Paired(mean, mean - half, mean + half, float(2 * stats.t.sf(abs(t), n - 1)), n)
