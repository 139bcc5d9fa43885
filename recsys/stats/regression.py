"""Regression adjustment with several covariates (CUPED generalised) and CUPAC.

With the metric estimate Y and covariate estimates X = (X_1..X_k) of each arm (means, or ratios
of sums linearised by the delta method), the adjusted difference is

    (Y_t - Y_c) - theta' (X_t - X_c),   theta = (S_c + S_t)^-1 (s_c + s_t),

where S is an arm's covariance matrix of the covariate estimates and s their covariances with
Y: the coefficients are pooled over both arms, so they favour neither (Deng, Xu, Kohavi &
Walker 2013 for one covariate, as :mod:`recsys.stats.cuped`; Lin 2013 and Guo, Coey et al.
2021 for several). Assignment is random, so X_t - X_c has mean zero and the adjustment removes
variance without bias; with one covariate this is exactly :func:`recsys.stats.cuped.cuped_test`.
The covariances come from each arm's :class:`~recsys.stats.summary.Moments` (sums and cross
sums of the columns), so the whole adjustment runs on summary statistics.

CUPAC (Tang, Huang et al., DoorDash 2020) adds one covariate: a machine-learning prediction
from pre-period features. :func:`cupac_covariate` fits a scikit-learn regressor on ``pre_*``
columns (and labels) only, to predict a ``pre_*`` target (by default the pre-period value of the
metric), so the outcome period never enters the model; it is cross-fitted (K folds by a seeded
hash of the user id), so a user's covariate comes from a model that never saw that user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.stats.estimate import Effect, VarianceReduction, two_arm_effect, welch_df
from recsys.stats.summary import Moments, stats_from_moments

Columns = tuple[str, ...]


def _gradient(m: Moments, est: Columns, columns: Sequence[str]) -> np.ndarray:
    """d(estimator) / d(column means) over ``columns`` for a mean (1 column) or ratio (2)."""
    g = np.zeros(len(columns))
    if len(est) == 1:
        g[columns.index(est[0])] = 1.0
        return g
    with np.errstate(all="ignore"):
        mn, md = m.sum(est[0]) / m.n, m.sum(est[1]) / m.n
        g[columns.index(est[0])] = 1.0 / md
        g[columns.index(est[1])] = -mn / (md * md)
    return g


def _value(m: Moments, est: Columns) -> float:
    with np.errstate(all="ignore"):
        if len(est) == 1:
            return float(m.sum(est[0]) / m.n)
        return float(m.sum(est[0]) / m.sum(est[1]))


def estimator_cov(m: Moments, estimators: Sequence[Columns]) -> np.ndarray:
    """Covariance matrix of the estimators (means or ratios of sums) of one group, by the delta
    method: G S G' / n, with S the sample covariance (n - 1) of the columns involved."""
    cols = sorted({c for e in estimators for c in e})
    idx = [m.columns.index(c) for c in cols]
    n = m.n
    if n < 2:
        return np.full((len(estimators), len(estimators)), np.nan)
    sums = m.sums[idx]
    cross = m.cross[np.ix_(idx, idx)]
    s = (cross - np.outer(sums, sums) / n) / (n - 1)
    g = np.vstack([_gradient(m, e, cols) for e in estimators])
    with np.errstate(invalid="ignore"):
        return g @ s @ g.T / n


def _as_estimators(metric, covariates) -> tuple[Columns, list[Columns]]:
    metric = (metric,) if isinstance(metric, str) else tuple(metric)
    covs = [(c,) if isinstance(c, str) else tuple(c) for c in covariates]
    for e in [metric, *covs]:
        if len(e) not in (1, 2):
            raise InputError(f"an estimator is one column (a mean) or two (a ratio), got {e}")
    return metric, covs


def regression_effect(kind: str, mc: Moments, mt: Moments, metric, covariates) -> tuple[Effect, np.ndarray]:
    """The regression-adjusted effect and the pooled coefficients theta (one per covariate).

    ``metric`` and each covariate are column names: one for a mean, two (numerator,
    denominator) for a ratio of sums. No covariates gives the unadjusted delta-method effect.
    """
    metric, covs = _as_estimators(metric, covariates)
    for m in (mc, mt):
        missing = [c for e in [metric, *covs] for c in e if c not in m.columns]
        if missing:
            raise InputError(f"column '{missing[0]}' is not among the summarised columns")
    ests = [metric, *covs]
    vc, vt = estimator_cov(mc, ests), estimator_cov(mt, ests)
    yc, yt = _value(mc, metric), _value(mt, metric)
    xc = np.array([_value(mc, e) for e in covs])
    xt = np.array([_value(mt, e) for e in covs])
    k = len(covs)
    theta = np.zeros(k)
    if k and np.all(np.isfinite(vc)) and np.all(np.isfinite(vt)):
        s = vc[1:, 1:] + vt[1:, 1:]
        r = vc[1:, 0] + vt[1:, 0]
        theta = np.linalg.lstsq(s, r, rcond=1e-12)[0] if np.any(s) else np.zeros(k)

    def adjusted(v: np.ndarray) -> float:
        return float(max(v[0, 0] - 2 * theta @ v[1:, 0] + theta @ v[1:, 1:] @ theta, 0.0))

    v_c, v_t = adjusted(vc), adjusted(vt)
    diff = (yt - yc) - float(theta @ (xt - xc)) if k else yt - yc
    df = welch_df(v_c, mc.n, v_t, mt.n) if kind == "mean" else np.inf
    base = {"mean": "welch", "ratio": "delta", "proportion": "proportion-z"}.get(kind, kind)
    method = f"{base}+regression({k})" if k else base
    return Effect(mc.n, mt.n, yc, yt, diff, v_c + v_t, float(vc[0, 0]), float(-vc[0, 0] + theta @ vc[1:, 0]),
                  df, method), theta


@dataclass(frozen=True)
class RegressionResult(VarianceReduction):
    """A regression-adjusted effect beside the unadjusted one and plain CUPED."""

    effect: Effect
    covariates: tuple[Columns, ...]
    theta: tuple[float, ...]
    unadjusted: Effect
    cuped: Effect | None           # one covariate: the metric's plain CUPED
    cuped_covariate: Columns | None

    @property
    def baseline(self) -> Effect:
        return self.unadjusted

    def to_dict(self, alpha: float = 0.05) -> dict:
        return {**self.effect.to_dict(alpha), "covariates": ["/".join(c) for c in self.covariates],
                "theta": list(self.theta), "variance_reduction": self.variance_reduction,
                "cuped_covariate": "/".join(self.cuped_covariate) if self.cuped_covariate else None,
                "variance_reduction_vs_cuped": self.variance_reduction_vs_cuped}


def regression_test(kind: str, mc: Moments, mt: Moments, metric, covariates,
                    cuped_covariate=None) -> RegressionResult:
    """Regression adjustment with ``covariates``, compared with the unadjusted test and with
    plain CUPED on ``cuped_covariate`` (by default the first covariate)."""
    metric, covs = _as_estimators(metric, covariates)
    if not covs:
        raise InputError("regression adjustment needs at least one covariate")
    effect, theta = regression_effect(kind, mc, mt, metric, covs)
    post = stats_from_moments(mc, metric), stats_from_moments(mt, metric)
    unadjusted = two_arm_effect(kind if kind in ("mean", "ratio", "proportion") else "mean", *post)
    if kind == "proportion":   # compare like with like: the sample variance the regression uses
        unadjusted = regression_effect("proportion", mc, mt, metric, [])[0]
    cov1 = covs[0] if cuped_covariate is None else _as_estimators(metric, [cuped_covariate])[1][0]
    cuped = regression_effect(kind, mc, mt, metric, [cov1])[0]
    return RegressionResult(effect, tuple(covs), tuple(map(float, theta)), unadjusted, cuped, cov1)


def _folds(keys: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """A fold per user from a seeded permutation of the users ordered by id hash: the same users
    share a fold whatever the row order."""
    order = np.argsort(keys, kind="stable")
    rng = np.random.default_rng([int(seed), 0xC0FFEE])
    folds = np.empty(keys.size, dtype=np.int64)
    folds[order] = rng.permutation(keys.size) % n_splits
    return folds


def _design(df: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Numeric features as they are; label columns one-hot encoded."""
    parts = []
    for f in features:
        s = df[f]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            parts.append(s.to_numpy(np.float64)[:, None])
        else:
            codes = pd.Categorical(s.astype(str))
            parts.append(np.eye(len(codes.categories))[codes.codes])
    return np.hstack(parts)


def cupac_covariate(df: pd.DataFrame, target: str, features: Sequence[str] | None = None, *, estimator=None,
                    n_splits: int = 5, seed: int = 0, id_column: str = "user_id",
                    n_threads: int | None = 1) -> np.ndarray:
    """Cross-fitted predictions of the pre-period column ``target`` from pre-period ``features``.

    ``features`` default to every other ``pre_*`` column plus ``segment`` when present; only
    ``pre_*`` columns and non-numeric labels are allowed, so nothing from the outcome period
    enters. ``estimator`` is any scikit-learn regressor (default: a histogram gradient-boosting
    regressor); it is cloned per fold and fitted on the other folds' users. ``n_threads`` limits
    the native thread pools while fitting (None: no limit).
    """
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    from recsys.stats.bootstrap import user_keys

    if target not in df.columns:
        raise InputError(f"CUPAC target column '{target}' is not in the table")
    if not target.startswith("pre_"):
        raise InputError(f"CUPAC target '{target}' must be a pre-period (pre_*) column")
    if features is None:
        features = [c for c in df.columns if c.startswith("pre_") and c != target]
        if "segment" in df.columns:
            features.append("segment")
    features = list(features)
    if not features:
        raise InputError("CUPAC needs at least one pre-period feature")
    for f in features:
        if f not in df.columns:
            raise InputError(f"CUPAC feature column '{f}' is not in the table")
        if f == target:
            raise InputError(f"CUPAC feature '{f}' is the target itself")
        numeric = pd.api.types.is_numeric_dtype(df[f].dtype) and not pd.api.types.is_bool_dtype(df[f].dtype)
        if numeric and not f.startswith("pre_"):
            raise InputError(f"CUPAC feature '{f}' is not a pre-period (pre_*) column or a label")
    if not (isinstance(n_splits, (int, np.integer)) and 2 <= n_splits <= len(df)):
        raise InputError(f"n_splits must be a whole number from 2 to the number of users, got {n_splits}")
    x = _design(df, features)
    y = df[target].to_numpy(np.float64)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("CUPAC features and target must have no empty or infinite values")
    keys = user_keys(df[id_column].to_numpy()) if id_column in df.columns else np.arange(len(df), dtype=np.uint64)
    folds = _folds(keys, int(n_splits), seed)
    model = estimator if estimator is not None else HistGradientBoostingRegressor(max_iter=60, random_state=seed)
    out = np.empty(len(df))
    with threadpool_limits(limits=n_threads):   # OpenMP pools oversubscribe a shared machine
        for k in range(int(n_splits)):
            test = folds == k
            fitted = clone(model).fit(x[~test], y[~test])
            out[test] = fitted.predict(x[test])
    return out
