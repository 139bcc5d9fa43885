"""Where the objective peaks along a weight axis, with an interval, and whether two segments' peaks differ.

A sweep measures the objective at a few weights; the best of them is a noisy pick among
neighbours. Here the optimum is estimated instead: a quadratic in the weight,

    y_i = a_rep(i) + b1 w_i + b2 w_i^2 (+ g x_i) + e_i,

is fitted by least squares to the per-user values ``y`` of the pooled replicates (one
intercept per replicate, so worlds may differ in level; ``x`` an optional pre-period covariate,
centred, as CUPED uses), with heteroscedasticity-robust (HC1) standard errors: users are
independent, their variances are not equal. The peak is the vertex ``w* = -b1 / (2 b2)``, a
maximum when ``b2 < 0`` (a minimum for a metric where lower is better). Its interval is
Fieller's for the ratio ``-b1 / (2 b2)``: the weights ``w`` at which the slope ``b1 + 2 b2 w``
is not significantly different from zero. It is bounded when the curvature ``b2`` is itself
significant, and unbounded otherwise (no peak can be told apart). The difference between two
segments' peaks (independent users) has the delta method's standard error
``sqrt(se_a^2 + se_b^2)``, with ``se`` the delta method's for each vertex, and a z test.
A segment without a peak (its curve flat or still rising or falling over the grid) has no
vertex to compare, but its optimum still differs from another segment's peak ``w_b`` if its own
slope there, ``b1 + 2 b2 w_b``, is not zero: :func:`slope_at` tests that, the variance of ``w_b``
carried by the delta method.

A paired sweep shows every user every weight (``unit``: the user, one id per user and
replicate). The intercept is then the user's own, ``y_uw = a_u + b1 w + b2 w^2 + e_uw``: the
fixed-effects (within-user) estimator, on values demeaned within each user, with standard errors
clustered by user (a user's values under different weights share their draws and are
correlated), with the small-sample factor (G / (G - 1)) ((n - 1) / (n - k)), k = 2 the slope
regressors: the user intercepts are nested in the clusters and are not counted (Cameron and
Miller 2015, as Stata's ``xtreg, fe vce(cluster)``; counting them, as ``areg`` does, inflates the
variance by about P / (P - 1) for P weights). A per-user covariate is constant within the user
and drops out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from recsys.stats.inference import fieller


@dataclass(frozen=True)
class Peak:
    """The fitted quadratic's vertex along one weight axis (NaN where it cannot be had)."""

    weight: float        # the vertex -b1 / (2 b2)
    se: float            # its delta-method standard error
    ci_low: float        # Fieller's interval (NaN: unbounded)
    ci_high: float
    b1: float
    b2: float
    b2_se: float
    b2_p: float          # two-sided p-value of the curvature
    users: int
    peak: bool           # a maximum (minimum for lower-is-better) with a significant curvature
    within_grid: bool    # the interval lies strictly inside the grid's range of weights
    b1_se: float = float("nan")
    b12_cov: float = float("nan")   # covariance of b1 and b2

    def to_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in asdict(self).items()}


def within_fit(y: np.ndarray, w: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``y`` on a per-``unit`` intercept, ``w`` and ``w^2`` (the within
    estimator): the coefficients of (w, w^2) and their covariance clustered by unit (CR1)."""
    y = np.asarray(y, np.float64)
    w = np.asarray(w, np.float64)
    _, g = np.unique(np.asarray(unit), return_inverse=True)
    G = g.max() + 1
    count = np.bincount(g, minlength=G).astype(np.float64)

    def demean(v: np.ndarray) -> np.ndarray:
        return v - (np.bincount(g, weights=v, minlength=G) / count)[g]

    X = np.column_stack([demean(w), demean(w * w)])
    yd = demean(y)
    XtX_inv = np.linalg.pinv(X.T @ X)
    beta = XtX_inv @ (X.T @ yd)
    e = yd - X @ beta
    score = np.column_stack([np.bincount(g, weights=X[:, j] * e, minlength=G) for j in range(2)])
    n, k = len(y), 2
    factor = G / max(G - 1, 1) * (n - 1) / max(n - k, 1)
    return beta, XtX_inv @ (score.T @ score) @ XtX_inv * factor


def quadratic_fit(y: np.ndarray, w: np.ndarray, group: np.ndarray,
                  x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``y`` on a per-``group`` intercept, ``w``, ``w^2`` (and centred ``x``):
    the coefficients of (w, w^2) and their HC1 covariance (2 x 2)."""
    y = np.asarray(y, np.float64)
    w = np.asarray(w, np.float64)
    _, g = np.unique(np.asarray(group), return_inverse=True)
    cols = [np.eye(g.max() + 1)[g], w[:, None], (w * w)[:, None]]
    if x is not None:
        x = np.asarray(x, np.float64)
        cols.append((x - x.mean())[:, None])
    X = np.hstack(cols)
    n, k = X.shape
    XtX_inv = np.linalg.pinv(X.T @ X)
    beta = XtX_inv @ (X.T @ y)
    e = y - X @ beta
    meat = (X * (e * e)[:, None]).T @ X
    cov = XtX_inv @ meat @ XtX_inv * (n / max(n - k, 1))
    j = g.max() + 1
    return beta[j:j + 2], cov[j:j + 2, j:j + 2]


def peak(y: np.ndarray, w: np.ndarray, group: np.ndarray, x: np.ndarray | None = None, *,
         lower_is_better: bool = False, alpha: float = 0.05, unit: np.ndarray | None = None) -> Peak:
    """The vertex of the quadratic fitted by :func:`quadratic_fit` (by :func:`within_fit` when
    ``unit`` is given: a paired sweep), with its intervals. ``users`` counts units when paired."""
    w = np.asarray(w, np.float64)
    (b1, b2), V = quadratic_fit(y, w, group, x) if unit is None else within_fit(y, w, unit)
    q = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(all="ignore"):
        b2_se = float(np.sqrt(V[1, 1]))
        b2_p = float(2 * stats.norm.sf(abs(b2) / b2_se)) if b2_se > 0 else float("nan")
        vertex = float(-b1 / (2 * b2)) if b2 != 0 else float("nan")
        grad = np.array([-1 / (2 * b2), b1 / (2 * b2 * b2)])
        se = float(np.sqrt(grad @ V @ grad))
    lo, hi = fieller(-b1, 2 * b2, V[0, 0], 4 * V[1, 1], -2 * V[0, 1], q)
    concave = b2 > 0 if lower_is_better else b2 < 0
    is_peak = bool(concave and np.isfinite(b2_p) and b2_p < alpha)
    inside = bool(is_peak and np.isfinite(lo) and lo > w.min() and hi < w.max())
    users = len(w) if unit is None else len(np.unique(np.asarray(unit)))
    return Peak(vertex, se, lo, hi, float(b1), float(b2), b2_se, b2_p, users, is_peak, inside,
                float(np.sqrt(V[0, 0])), float(V[0, 1]))


def _z(estimate: float, se: float, alpha: float) -> dict:
    """A normal interval and two-sided z test of ``estimate`` (NaN where ``se`` is unusable)."""
    q = float(stats.norm.ppf(1 - alpha / 2))
    ok = bool(np.isfinite(estimate) and np.isfinite(se) and se > 0)
    p = float(2 * stats.norm.sf(abs(estimate) / se)) if ok else float("nan")
    return {"se": float(se), "ci_low": float(estimate - q * se) if ok else float("nan"),
            "ci_high": float(estimate + q * se) if ok else float("nan"), "p_value": p,
            "significant": bool(ok and p < alpha)}


def difference(a: Peak, b: Peak, alpha: float = 0.05) -> dict:
    """``a.weight - b.weight`` with a delta-method interval and a two-sided z test."""
    diff = a.weight - b.weight
    return {"diff": float(diff), **_z(diff, float(np.hypot(a.se, b.se)), alpha)}


def slope_at(a: Peak, b: Peak, alpha: float = 0.05) -> dict:
    """The slope of ``a``'s fitted quadratic at ``b``'s vertex, ``a.b1 + 2 a.b2 w_b``, with a
    delta-method interval (``a``'s coefficients and ``w_b`` independent: different users) and a
    two-sided z test. Nonzero: ``b``'s best weight is not ``a``'s (above it when the slope is
    positive for a metric where higher is better)."""
    w = b.weight
    slope = a.b1 + 2 * a.b2 * w
    var = a.b1_se ** 2 + 4 * w * w * a.b2_se ** 2 + 4 * w * a.b12_cov + (2 * a.b2 * b.se) ** 2
    return {"slope": float(slope), "at": float(w), **_z(slope, float(np.sqrt(var)) if var > 0 else float("nan"), alpha)}
