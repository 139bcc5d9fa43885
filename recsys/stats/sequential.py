"""Always-valid inference for daily peeks: a normal-mixture sequential probability ratio test.

Looking at a fixed-horizon p-value every day and stopping at the first p < 0.05 inflates the
false-positive rate well past 5%. Instead, at each look we take the estimated difference d and
its variance V (from the cumulative summaries so far) and form the mixture likelihood ratio

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 d^2 / (2 V (V + tau2)))

of "effect ~ N(0, tau2)" against "no effect". By the CLT it is asymptotically a martingale
under the null (Johari et al. 2017's mSPRT; the asymptotic confidence sequences of
Waudby-Smith et al. 2023), so by Ville's inequality P(Lambda ever exceeds 1/alpha) <= alpha.
The always-valid p-value is min(1, 1 / max Lambda so far); the confidence sequence is the set
of effects not rejected, intersected over looks. ``tau2`` sets where the test is most
sensitive. It must be fixed before the data it tests: by default it is tuned to the variance
at the first look (:func:`first_look_tau2`), never to a later one (tuning it to the final look's
variance, as an earlier version did, reads the future).

Two settings. When users arrive over time and the estimand is fixed, the intersection over
looks is a valid confidence sequence (:func:`sequential_test`). In an experiment's daily
monitor the cohort is fixed at assignment and the estimand grows every day (the effect on
clicks up to day d): the intersection then means nothing, so :func:`look_intervals` gives each
look's own always-valid interval, which covers that look's estimand; the closed-loop check in
tests/stats/test_sequential_cohort.py measures its false-alarm rate on such cohorts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import optimize

from recsys.stats.summary import Stats


def optimal_tau2(final_variance: float, alpha: float = 0.05) -> float:
    """The mixing variance that makes the confidence sequence narrowest at ``final_variance``."""
    log_a = np.log(1 / alpha)

    def width(log_r: float) -> float:
        r = np.exp(log_r)
        return (1 + 1 / r) * (2 * log_a + np.log1p(r))

    best = optimize.minimize_scalar(width, bounds=(-10.0, 10.0), method="bounded")
    return float(final_variance * np.exp(best.x))


def first_look_tau2(variances, alpha: float = 0.05) -> float:
    """The mixing variance tuned to the first look with a usable variance (1.0 if none)."""
    v = np.asarray(variances, dtype=np.float64)
    finite = v[np.isfinite(v) & (v > 0)]
    return optimal_tau2(float(finite[0]) if finite.size else 1.0, alpha)


def look_intervals(diff, var, alpha: float = 0.05, tau2: float | None = None):
    """Each look's always-valid interval and p-value: (p_value, ci_low, ci_high, tau2).

    ``p_value`` is the running always-valid p (it never rises); the interval is the look's own
    (1 - alpha) mixture interval, not intersected over looks, so it covers a growing estimand.
    """
    d = np.asarray(diff, dtype=np.float64)
    v = np.asarray(var, dtype=np.float64)
    tau2 = first_look_tau2(v, alpha) if tau2 is None else tau2
    r = confidence_radius(v, tau2, alpha)
    return always_valid_p(d, v, tau2), d - r, d + r, tau2


def mixture_log_lr(diff, var, tau2, null: float = 0.0) -> np.ndarray:
    """log Lambda for each look (arrays broadcast; NaN where the variance is not positive)."""
    d = np.asarray(diff, dtype=np.float64) - null
    v = np.asarray(var, dtype=np.float64)
    with np.errstate(all="ignore"):
        out = 0.5 * np.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
    return np.where(v > 0, out, np.nan)


def always_valid_p(diff, var, tau2) -> np.ndarray:
    """Always-valid p-values along the last axis (the looks): min(1, 1 / running max Lambda)."""
    llr = np.nan_to_num(mixture_log_lr(diff, var, tau2), nan=-np.inf)
    return np.minimum(1.0, np.exp(-np.maximum.accumulate(llr, axis=-1)))


def confidence_radius(var, tau2, alpha: float = 0.05) -> np.ndarray:
    """Half-width of the (1 - alpha) confidence sequence at each look."""
    v = np.asarray(var, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.sqrt(v * (v + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log((v + tau2) / v)))


@dataclass(frozen=True)
class SequentialLook:
    look: int
    n_control: int
    n_treatment: int
    diff: float
    se: float
    ci_low: float         # confidence sequence, intersected over the looks so far
    ci_high: float
    p_value: float        # always valid: may be checked at every look
    reject: bool


@dataclass(frozen=True)
class SequentialResult:
    alpha: float
    tau2: float
    looks: tuple[SequentialLook, ...]

    @property
    def first_rejection(self) -> int | None:
        return next((lk.look for lk in self.looks if lk.reject), None)

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "tau2": self.tau2, "first_rejection": self.first_rejection,
                "looks": [asdict(lk) for lk in self.looks]}


def sequential_test(diffs, variances, alpha: float = 0.05, tau2: float | None = None,
                    n_control=None, n_treatment=None) -> SequentialResult:
    """Always-valid p-values and confidence sequence over looks of cumulative estimates of a
    fixed estimand (users arriving over time); ``tau2`` defaults to :func:`first_look_tau2`."""
    d = np.asarray(diffs, dtype=np.float64)
    v = np.asarray(variances, dtype=np.float64)
    if tau2 is None:
        tau2 = first_look_tau2(v, alpha)
    p = always_valid_p(d, v, tau2)
    r = confidence_radius(v, tau2, alpha)
    with np.errstate(invalid="ignore"):
        lo = np.fmax.accumulate(np.where(np.isfinite(r), d - r, -np.inf))
        hi = np.fmin.accumulate(np.where(np.isfinite(r), d + r, np.inf))
    nc = n_control if n_control is not None else [0] * len(d)
    nt = n_treatment if n_treatment is not None else [0] * len(d)
    looks = tuple(SequentialLook(i + 1, int(nc[i]), int(nt[i]), float(d[i]), float(np.sqrt(v[i])) if v[i] >= 0 else np.nan,
                                 float(lo[i]), float(hi[i]), float(p[i]), bool(p[i] <= alpha))
                  for i in range(len(d)))
    return SequentialResult(float(alpha), float(tau2), looks)


def sequential_from_stats(looks: Sequence[tuple[Stats, Stats]], alpha: float = 0.05,
                          tau2: float | None = None) -> SequentialResult:
    """The test over looks given as cumulative (control, treatment) summaries of one metric."""
    diffs = [t.mean - c.mean for c, t in looks]
    var = [c.var_of_mean + t.var_of_mean for c, t in looks]
    return sequential_test(diffs, var, alpha, tau2, [c.n for c, _ in looks], [t.n for _, t in looks])
