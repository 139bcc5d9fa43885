"""Paired comparisons: the same users measured under two arms.

A simulator can show every user each arm from the same state of the world, with the same random
draws (common random numbers): a user's outcomes under the two arms are then strongly correlated
and their difference is far less noisy than the difference of two independent groups. The unit
is still the user. For a ratio metric (sum of numerators over sum of denominators, a mean being
the ratio with denominator 1) each arm's estimate R = sum(n) / sum(d) is linearised per user,

    phi_i = (n_i - R d_i) / mean(d),

and the variance of the difference R_t - R_c is var(phi_t - phi_c) / N, with the covariance of
the two arms kept; the relative lift gets Fieller's interval from the same moments
(:func:`recsys.stats.inference.compare`). For a mean this is the paired t-test's statistic
(normal reference), i.e. :func:`scipy.stats.ttest_rel` on the user's two values.
"""

from __future__ import annotations

import numpy as np

from recsys.stats.inference import TestResult, compare


def _linearised(num: np.ndarray, den: np.ndarray) -> tuple[float, np.ndarray]:
    mean_d = den.mean()
    ratio = num.sum() / den.sum()
    return float(ratio), (num - ratio * den) / mean_d


def paired_test(num_c: np.ndarray, num_t: np.ndarray, den_c: np.ndarray | None = None,
                den_t: np.ndarray | None = None, *, alpha: float = 0.05) -> TestResult:
    """Treatment against control on the same users (row i of every array is one user).

    ``den_*`` None: a mean (or proportion) of ``num_*``; else the ratio of sums. The interval,
    p-value and relative lift are normal-theory (the delta method), as for the unpaired tests.
    """
    num_c, num_t = np.asarray(num_c, np.float64), np.asarray(num_t, np.float64)
    n = len(num_c)
    if len(num_t) != n or n < 2:
        raise ValueError("a paired test needs the same users (at least two) in both arms")
    den_c = np.ones(n) if den_c is None else np.asarray(den_c, np.float64)
    den_t = np.ones(n) if den_t is None else np.asarray(den_t, np.float64)
    r_c, phi_c = _linearised(num_c, den_c)
    r_t, phi_t = _linearised(num_t, den_t)
    d = phi_t - phi_c
    cov = np.cov(np.vstack([d, phi_c]), ddof=1) / n
    return compare(r_c, r_t, r_t - r_c, float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1]),
                   n_c=n, n_t=n, alpha=alpha, method="paired delta method (same users in both arms)")
