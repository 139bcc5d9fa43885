"""Two-arm tests on summary statistics: Welch's t, the delta method, the two-proportion z.

Each returns a :class:`TestResult`: the absolute difference (treatment - control) with its
interval and p-value, and the relative lift (treatment / control - 1) with its interval by the
delta method on the ratio of the two arms' estimates. The arms are independent samples, so the
covariance between them is zero; :func:`compare` also takes the covariance between the
difference and the control estimate, which CUPED and the bootstrap supply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from recsys.stats.summary import MeanStats, RatioStats, Stats, _div


@dataclass(frozen=True)
class TestResult:
    """One comparison of a treatment arm with the control arm."""

    __test__ = False  # not a pytest test class

    n_control: int
    n_treatment: int
    control: float
    treatment: float
    diff: float
    ci_low: float
    ci_high: float
    rel_lift: float
    rel_ci_low: float
    rel_ci_high: float
    p_value: float
    se: float
    rel_se: float
    df: float              # degrees of freedom; inf for a normal (z) test
    method: str
    variance_reduction: float | None = None   # CUPED: 1 - var(adjusted diff) / var(raw diff)

    def to_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in asdict(self).items()}


def _quantile(alpha: float, df: float) -> float:
    """Two-sided critical value: normal when df is infinite, Student's t otherwise."""
    if not np.isfinite(df):
        return float(sps.norm.ppf(1 - alpha / 2))
    return float(sps.t.ppf(1 - alpha / 2, df))


def _p_value(stat: float, df: float) -> float:
    if not np.isfinite(df):
        return float(2 * sps.norm.sf(abs(stat)))
    return float(2 * sps.t.sf(abs(stat), df))


def welch_df(v_c: float, n_c: int, v_t: float, n_t: int) -> float:
    """Welch-Satterthwaite degrees of freedom from each arm's variance of the mean."""
    num = (v_c + v_t) ** 2
    den = (v_c * v_c / (n_c - 1) if n_c > 1 else np.nan) + (v_t * v_t / (n_t - 1) if n_t > 1 else np.nan)
    df = _div(num, den)
    return float(df) if np.isfinite(df) else np.inf


def compare(c_value: float, t_value: float, diff: float, var_diff: float, var_c: float, cov_diff_c: float,
            *, n_c: int, n_t: int, alpha: float, df: float = np.inf, method: str,
            p_se: float | None = None, variance_reduction: float | None = None) -> TestResult:
    """The common tail of every test: interval, p-value and relative lift from moments.

    ``diff`` is the (possibly adjusted) difference and ``var_diff`` its variance; ``var_c`` is
    the control estimate's variance and ``cov_diff_c`` the covariance of the difference with
    it (-var_c for two independent arms). The relative lift diff / control gets its variance
    by the delta method. ``p_se`` overrides the standard error used for the p-value only (the
    pooled one of the proportion test).
    """
    with np.errstate(all="ignore"):
        se = float(np.sqrt(var_diff)) if var_diff >= 0 else np.nan
        q = _quantile(alpha, df)
        p_se = se if p_se is None else p_se
        if not (np.isfinite(diff) and np.isfinite(p_se)):
            p = np.nan
        elif p_se == 0:
            p = 1.0 if diff == 0 else 0.0
        else:
            p = _p_value(diff / p_se, df)
        c = np.float64(c_value)
        rel = float(diff / c) if c != 0 else np.nan
        var_rel = var_diff / c ** 2 + diff ** 2 * var_c / c ** 4 - 2 * diff * cov_diff_c / c ** 3 if c != 0 else np.nan
        rel_se = float(np.sqrt(var_rel)) if np.isfinite(var_rel) and var_rel >= 0 else np.nan
        return TestResult(
            n_control=int(n_c), n_treatment=int(n_t), control=float(c_value), treatment=float(t_value),
            diff=float(diff), ci_low=float(diff - q * se), ci_high=float(diff + q * se),
            rel_lift=rel, rel_ci_low=float(rel - q * rel_se), rel_ci_high=float(rel + q * rel_se),
            p_value=float(p), se=se, rel_se=rel_se, df=float(df), method=method,
            variance_reduction=variance_reduction)


def welch_test(c: MeanStats, t: MeanStats, alpha: float = 0.05) -> TestResult:
    """Welch's unequal-variance t-test on the difference of two means."""
    v_c, v_t = c.var_of_mean, t.var_of_mean
    return compare(c.mean, t.mean, t.mean - c.mean, v_c + v_t, v_c, -v_c, n_c=c.n, n_t=t.n, alpha=alpha,
                   df=welch_df(v_c, c.n, v_t, t.n), method="welch")


def delta_test(c: RatioStats, t: RatioStats, alpha: float = 0.05) -> TestResult:
    """A ratio-of-sums metric (e.g. clicks / impressions) with users as the unit: a z-test whose
    variance comes from the per-user covariance of numerator and denominator (delta method)."""
    v_c, v_t = c.var_of_mean, t.var_of_mean
    return compare(c.mean, t.mean, t.mean - c.mean, v_c + v_t, v_c, -v_c, n_c=c.n, n_t=t.n, alpha=alpha,
                   method="delta")


def proportion_test(c: MeanStats, t: MeanStats, alpha: float = 0.05) -> TestResult:
    """Two-proportion z-test: pooled standard error for the p-value (as statsmodels'
    proportions_ztest), unpooled (Wald) for the intervals."""
    p_c, p_t = c.mean, t.mean
    with np.errstate(all="ignore"):
        v_c = _div(p_c * (1 - p_c), c.n)
        v_t = _div(p_t * (1 - p_t), t.n)
        pooled = _div(c.sum + t.sum, c.n + t.n)
        p_se = float(np.sqrt(pooled * (1 - pooled) * (_div(1, c.n) + _div(1, t.n))))
    return compare(p_c, p_t, p_t - p_c, v_c + v_t, v_c, -v_c, n_c=c.n, n_t=t.n, alpha=alpha,
                   method="proportion-z", p_se=p_se)


def two_arm_test(kind: str, c: Stats, t: Stats, alpha: float = 0.05) -> TestResult:
    """The test contracts section 3 prescribes for a metric kind."""
    if kind == "ratio":
        return delta_test(c, t, alpha)
    if kind == "proportion":
        return proportion_test(c, t, alpha)
    return welch_test(c, t, alpha)
