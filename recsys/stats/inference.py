"""Two-arm tests on summary statistics: Welch's t, the delta method, the two-proportion z.

Each returns a :class:`TestResult`: the absolute difference (treatment - control) with its
interval and p-value, and the relative lift (treatment / control - 1) with Fieller's interval
for the ratio of the two arms' estimates. Fieller's interval is the set of ratios r for which
the contrast ``treatment - r * control`` is not significant, so it contains 0 exactly when the
test of the difference does, and its tails stay honest for small rates (churn near 4%) where
the symmetric delta interval misses on one side more often than on the other. The arms are
independent samples; :func:`compare` also takes the covariance between the difference and the
control estimate, which CUPED and the bootstrap supply.

One-sided tests used by the decision rule (:func:`one_sided_p`, :func:`noninferiority`) read
the same moments, so every interval, p-value and verdict about a row agrees with the others.
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
    var_control: float = float("nan")         # variance of the control estimate
    cov_diff_control: float = float("nan")    # covariance of the difference with the control estimate

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


def _sf(stat: float, df: float) -> float:
    """Upper-tail probability of the test statistic (normal or Student's t)."""
    if not np.isfinite(stat):
        return float("nan") if np.isnan(stat) else (0.0 if stat > 0 else 1.0)
    return float(sps.norm.sf(stat) if not np.isfinite(df) else sps.t.sf(stat, df))


def fieller(t: float, c: float, var_t: float, var_c: float, cov_tc: float, q: float) -> tuple[float, float]:
    """Fieller's interval for the ratio t / c of two estimates with the given (co)variances, at
    critical value ``q``: the ratios r with (t - r c)^2 <= q^2 var(t - r c). NaN when the
    control estimate itself is not distinguishable from zero (the set is then unbounded)."""
    a = c * c - q * q * var_c
    b = t * c - q * q * cov_tc
    disc = b * b - a * (t * t - q * q * var_t)
    if not (np.isfinite(a) and np.isfinite(disc)) or a <= 0 or disc < 0:
        return float("nan"), float("nan")
    root = np.sqrt(disc)
    return float((b - root) / a), float((b + root) / a)


def welch_df(v_c: float, n_c: int, v_t: float, n_t: int) -> float:
    """Welch-Satterthwaite degrees of freedom from each arm's variance of the mean."""
    num = (v_c + v_t) ** 2
    den = (v_c * v_c / (n_c - 1) if n_c > 1 else np.nan) + (v_t * v_t / (n_t - 1) if n_t > 1 else np.nan)
    df = _div(num, den)
    return float(df) if np.isfinite(df) else np.inf


def compare(c_value: float, t_value: float, diff: float, var_diff: float, var_c: float, cov_diff_c: float,
            *, n_c: int, n_t: int, alpha: float, df: float = np.inf, method: str,
            variance_reduction: float | None = None) -> TestResult:
    """The common tail of every test: interval, p-value and relative lift from moments.

    ``diff`` is the (possibly adjusted) difference and ``var_diff`` its variance; ``var_c`` is
    the control estimate's variance and ``cov_diff_c`` the covariance of the difference with
    it (-var_c for two independent arms). The relative lift diff / control gets Fieller's
    interval, and a delta-method standard error (``rel_se``, for pooling across segments).
    """
    with np.errstate(all="ignore"):
        se = float(np.sqrt(var_diff)) if var_diff >= 0 else np.nan
        q = _quantile(alpha, df)
        if not (np.isfinite(diff) and np.isfinite(se)):
            p = np.nan
        elif se == 0:
            p = 1.0 if diff == 0 else 0.0
        else:
            p = _p_value(diff / se, df)
        c = np.float64(c_value)
        rel = float(diff / c) if c != 0 else np.nan
        var_rel = var_diff / c ** 2 + diff ** 2 * var_c / c ** 4 - 2 * diff * cov_diff_c / c ** 3 if c != 0 else np.nan
        rel_se = float(np.sqrt(var_rel)) if np.isfinite(var_rel) and var_rel >= 0 else np.nan
        # the ratio (control + diff) / control, by Fieller: var and covariance of its numerator
        lo, hi = fieller(c + diff, c, var_diff + var_c + 2 * cov_diff_c, var_c, var_c + cov_diff_c, q)
        return TestResult(
            n_control=int(n_c), n_treatment=int(n_t), control=float(c_value), treatment=float(t_value),
            diff=float(diff), ci_low=float(diff - q * se), ci_high=float(diff + q * se),
            rel_lift=rel, rel_ci_low=lo - 1.0, rel_ci_high=hi - 1.0,
            p_value=float(p), se=se, rel_se=rel_se, df=float(df), method=method,
            variance_reduction=variance_reduction, var_control=float(var_c), cov_diff_control=float(cov_diff_c))


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
    """Two-proportion Wald z-test: one unpooled standard error for the p-value and the
    intervals (statsmodels' ``test_proportions_2indep(method="wald")``), so a p-value below
    alpha always comes with an interval that excludes 0. (The pooled-variance p-value of
    ``proportions_ztest`` can disagree with the Wald interval: 0/1000 vs 3/150 gives p = 7.5e-6
    beside an interval that spans 0.)"""
    p_c, p_t = c.mean, t.mean
    with np.errstate(all="ignore"):
        v_c = _div(p_c * (1 - p_c), c.n)
        v_t = _div(p_t * (1 - p_t), t.n)
    return compare(p_c, p_t, p_t - p_c, v_c + v_t, v_c, -v_c, n_c=c.n, n_t=t.n, alpha=alpha,
                   method="proportion-z")


def one_sided_p(res: TestResult, harm_up: bool) -> float:
    """p-value of a one-sided test that the difference moves in one direction: up (``harm_up``)
    or down. The deterioration test of the decision rule: a significant move the wrong way."""
    if not (np.isfinite(res.diff) and np.isfinite(res.se)):
        return float("nan")
    if res.se == 0:
        return 0.0 if (res.diff > 0) == harm_up and res.diff != 0 else 1.0
    stat = res.diff / res.se
    return _sf(stat if harm_up else -stat, res.df)


@dataclass(frozen=True)
class NonInferiority:
    """A one-sided test that the change is better than a margin (the margin ruled out)."""

    margin: float          # the worst acceptable change (relative or absolute), signed
    relative: bool
    bound: float           # the one-sided (1 - alpha) bound on the change, on the margin's scale
    p_value: float         # small when the margin is ruled out
    z: float

    def to_dict(self) -> dict:
        return asdict(self)


def noninferiority(res: TestResult, margin: float, *, relative: bool, alpha: float) -> NonInferiority:
    """Test H0: the change is at least as bad as ``margin`` against H1: it is better.

    The margin's sign says which way is harm (positive: a rise, e.g. churn +10%). A relative
    margin m is tested on the contrast ``treatment - (1 + m) control`` (Fieller's, so the
    bound agrees with the relative interval); an absolute one on ``diff - m``. The bound is the
    one-sided (1 - alpha) limit on the harmful side.
    """
    harm_up = margin > 0
    sign = 1.0 if harm_up else -1.0
    q = float(sps.norm.isf(alpha) if not np.isfinite(res.df) else sps.t.isf(alpha, res.df))
    with np.errstate(all="ignore"):
        if relative:
            c = res.control
            k = 1.0 + margin
            var_c, cov = res.var_control, res.cov_diff_control
            var_t = res.se ** 2 + var_c + 2 * cov
            contrast = (c + res.diff) - k * c
            var = var_t - 2 * k * (var_c + cov) + k * k * var_c
            lo, hi = fieller(c + res.diff, c, var_t, var_c, var_c + cov, q)
            bound = (hi if harm_up else lo) - 1.0
        else:
            contrast = res.diff - margin
            var = res.se ** 2
            bound = res.diff + sign * q * res.se
        se = np.sqrt(var) if var >= 0 else np.nan
        z = float(-sign * contrast / se) if se > 0 else (np.inf if -sign * contrast > 0 else -np.inf)
    p = _sf(z, res.df)
    return NonInferiority(float(margin), bool(relative), float(bound), float(p), z)


def two_arm_test(kind: str, c: Stats, t: Stats, alpha: float = 0.05) -> TestResult:
    """The test docs/contracts.md section 3 prescribes for a metric kind."""
    if kind == "ratio":
        return delta_test(c, t, alpha)
    if kind == "proportion":
        return proportion_test(c, t, alpha)
    return welch_test(c, t, alpha)
