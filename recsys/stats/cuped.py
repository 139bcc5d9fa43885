"""CUPED: regression adjustment with a pre-experiment covariate, for means and ratios.

The adjusted difference is (Y_t - Y_c) - theta (X_t - X_c), where Y is each arm's metric
estimate (a mean, or a ratio of sums), X the same arm's covariate estimate (a pre-period mean
or ratio of sums) and theta = (Cov_t(Y, X) + Cov_c(Y, X)) / (Var_t(X) + Var_c(X)) is pooled
over both arms, so it does not favour either. Assignment is random, so X_t - X_c has mean zero
and the adjustment removes noise without adding bias; the variance falls by about rho^2, where
rho is the correlation of the metric with its covariate. Covariances of the estimators come
from the delta method on the per-user sums (:class:`~recsys.stats.summary.CupedStats`).
"""

from __future__ import annotations

import numpy as np

from recsys.stats.inference import TestResult, compare, two_arm_test, welch_df
from recsys.stats.summary import CupedStats, _div

_BASE_METHOD = {"mean": "welch", "ratio": "delta", "proportion": "proportion-z"}


def pooled_theta(c: CupedStats, t: CupedStats) -> float:
    """The variance-minimising coefficient on the covariate, pooled over both arms."""
    cc, ct = c.joint_cov(), t.joint_cov()
    return float(_div(cc[0, 1] + ct[0, 1], cc[1, 1] + ct[1, 1]))


def cuped_test(kind: str, c: CupedStats, t: CupedStats, alpha: float = 0.05) -> TestResult:
    """The kind's test on the CUPED-adjusted difference; ``variance_reduction`` says how much
    the covariate removed. Falls back to the unadjusted test when the covariate has no spread."""
    theta = pooled_theta(c, t)
    cc, ct = c.joint_cov(), t.joint_cov()
    if not np.isfinite(theta) or not np.all(np.isfinite(cc)) or not np.all(np.isfinite(ct)):
        return two_arm_test(kind, c.post, t.post, alpha)
    y_c, y_t = c.post.mean, t.post.mean
    x_c, x_t = c.pre.mean, t.pre.mean
    diff = (y_t - y_c) - theta * (x_t - x_c)
    v_c = max(cc[0, 0] - 2 * theta * cc[0, 1] + theta ** 2 * cc[1, 1], 0.0)
    v_t = max(ct[0, 0] - 2 * theta * ct[0, 1] + theta ** 2 * ct[1, 1], 0.0)
    raw = cc[0, 0] + ct[0, 0]
    reduction = float(1 - _div(v_c + v_t, raw)) if raw > 0 else 0.0
    df = welch_df(v_c, c.n, v_t, t.n) if kind == "mean" else np.inf
    return compare(y_c, y_t, diff, v_c + v_t, cc[0, 0], -cc[0, 0] + theta * cc[0, 1],
                   n_c=c.n, n_t=t.n, alpha=alpha, df=df, method=f"{_BASE_METHOD[kind]}+cuped",
                   variance_reduction=reduction)
