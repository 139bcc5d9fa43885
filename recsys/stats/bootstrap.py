"""A vectorised, seeded Poisson bootstrap over users, for composites and any metric on request.

Each replicate gives every unit an independent Poisson(1) weight; a metric is a formula of
weighted column sums, so all replicates are one (replicates x units) @ (units x columns) matrix
product, computed in chunks of replicates to bound memory. The unit is the user: up to
``max_units`` users each is its own unit; above that, users are hashed into ``max_units``
buckets (all of a user's value in one bucket) and buckets are resampled, which keeps a large
table fast while still resampling whole users.

Determinism: units are ordered by a hash of user_id, and each group's generator is seeded by
(seed, a fingerprint of its user ids), so results do not depend on row order or arm labels,
and a group's replicates are the same whichever arm is called the control.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from recsys.stats.inference import TestResult, compare
from recsys.stats.metrics import Metric, METRICS

DEFAULT_REPLICATES = 1000
MAX_UNITS = 2000
_CHUNK_CELLS = 1 << 22          # weights per chunk (replicates x units): 32 MB of float64

def has_column(col: str) -> str:
    """The name of the 0/1 "has a value" indicator of a column that may be empty."""
    return f"__has__{col}"


def user_keys(user_ids) -> np.ndarray:
    """A stable 64-bit hash per user id (ints and strings alike)."""
    arr = np.asarray(user_ids)
    if arr.dtype.kind not in "iuf":
        arr = arr.astype(str).astype(object)
    return pd.util.hash_array(arr)


def metric_value(metric: Metric, sums: Mapping[str, np.ndarray], n) -> np.ndarray:
    """A metric from (weighted) sums of its columns and the (weighted) user count."""
    with np.errstate(all="ignore"):
        if metric.kind == "composite":
            if metric.name != "engagement_efficiency":
                raise ValueError(f"no formula for composite {metric.name}")
            play_rate = sums["plays"] / sums["sessions"]
            completion_rate = sums["completions"] / sums["plays"]
            ttfp = sums["time_to_first_play_s"] / sums[has_column("time_to_first_play_s")]
            return play_rate * completion_rate / ttfp
        if metric.kind == "ratio":
            return sums[metric.numerator] / sums[metric.denominator]
        if metric.subset:
            return sums[metric.numerator] / sums[has_column(metric.numerator)]
        return sums[metric.numerator] / n


def bootstrap_columns(metric: Metric) -> tuple[str, ...]:
    """The summed columns a metric's formula reads (subset means add their indicator)."""
    cols = list(metric.columns)
    if metric.kind == "composite":
        cols.append(has_column("time_to_first_play_s"))
    elif metric.subset:
        cols.append(has_column(metric.numerator))
    return tuple(cols)


def unit_sums(values: np.ndarray, keys: np.ndarray, max_units: int = MAX_UNITS) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit column sums (units x columns) and user counts: users, or hash buckets of users."""
    n = len(keys)
    if n <= max_units:
        order = np.argsort(keys, kind="stable")
        return values[order], np.ones(n)
    bucket = (keys % np.uint64(max_units)).astype(np.int64)
    sums = np.column_stack([np.bincount(bucket, weights=values[:, j], minlength=max_units)
                            for j in range(values.shape[1])]) if values.shape[1] else np.zeros((max_units, 0))
    return sums, np.bincount(bucket, minlength=max_units).astype(np.float64)


#: cumulative Poisson(1) probabilities of 0..19 (the last set to 1: P(X >= 20) < 1e-19)
_POISSON1_CDF = np.cumsum(np.exp(-1.0) / np.cumprod(np.r_[1.0, np.arange(1, 20)]))
_POISSON1_CDF[-1] = 1.0


def poisson1(rng: np.random.Generator, shape) -> np.ndarray:
    """Poisson(1) weights by inverting the CDF of uniforms (about twice as fast as rng.poisson)."""
    return np.searchsorted(_POISSON1_CDF, rng.random(shape), side="right").astype(np.float64)


def replicate_sums(values: np.ndarray, keys: np.ndarray, n_boot: int = DEFAULT_REPLICATES, seed: int = 0,
                   max_units: int = MAX_UNITS) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of the column sums (n_boot x columns) and of the user count (n_boot,)."""
    units, counts = unit_sums(values, keys, max_units)
    fingerprint = int(np.sum(keys, dtype=np.uint64)) if len(keys) else 0
    rng = np.random.default_rng([int(seed), fingerprint & 0xFFFFFFFF, fingerprint >> 32, len(keys)])
    m = len(counts)
    data = np.column_stack([units, counts])
    out = np.empty((n_boot, data.shape[1]))
    chunk = max(1, _CHUNK_CELLS // max(m, 1))
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        w = poisson1(rng, (stop - start, m))
        out[start:stop] = w @ data
    return out[:, :-1], out[:, -1]


def bootstrap_metric(metric: Metric, values: np.ndarray, columns, keys: np.ndarray, n_boot: int = DEFAULT_REPLICATES,
                     seed: int = 0, max_units: int = MAX_UNITS) -> tuple[float, np.ndarray]:
    """The metric's point estimate and its bootstrap replicates for one group of users."""
    columns = list(columns)
    point = metric_value(metric, dict(zip(columns, values.sum(axis=0))), len(keys))
    sums, n = replicate_sums(values, keys, n_boot, seed, max_units)
    reps = metric_value(metric, {c: sums[:, j] for j, c in enumerate(columns)}, n)
    return float(point), reps


def bootstrap_test(point_c: float, reps_c: np.ndarray, point_t: float, reps_t: np.ndarray, *, n_c: int, n_t: int,
                   alpha: float = 0.05) -> TestResult:
    """Compare two arms from their replicates: the bootstrap variance of the difference and its
    covariance with the control feed a normal interval and p-value; the relative lift uses the
    delta method on those moments (smooth, and not limited to 1 / replicates as a percentile
    p-value would be, so it survives a multiple-comparison correction)."""
    ok = np.isfinite(reps_c) & np.isfinite(reps_t)
    if ok.sum() < 10:
        nan = float("nan")
        return compare(point_c, point_t, point_t - point_c, nan, nan, nan, n_c=n_c, n_t=n_t,
                       alpha=alpha, method="bootstrap")
    rc, rt = reps_c[ok], reps_t[ok]
    d = rt - rc
    cov = np.cov(np.vstack([d, rc]))
    return compare(point_c, point_t, point_t - point_c, float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1]),
                   n_c=n_c, n_t=n_t, alpha=alpha, method="bootstrap")


def bootstrap_two_arms(metric: Metric | str, control: pd.DataFrame, treatment: pd.DataFrame, *,
                       n_boot: int = DEFAULT_REPLICATES, seed: int = 0, alpha: float = 0.05,
                       max_units: int = MAX_UNITS, id_column: str = "user_id") -> TestResult:
    """Bootstrap comparison of two per-user frames (a convenience for one metric, e.g. in notebooks)."""
    metric = METRICS[metric] if isinstance(metric, str) else metric
    cols = bootstrap_columns(metric)
    parts = []
    for frame in (control, treatment):
        vals = np.column_stack([_column(frame, c) for c in cols])
        keys = user_keys(frame[id_column].to_numpy()) if id_column in frame else np.arange(len(frame), dtype=np.uint64)
        parts.append((*bootstrap_metric(metric, vals, cols, keys, n_boot, seed, max_units), len(frame)))
    (pc, rc, nc), (pt, rt, nt) = parts
    return bootstrap_test(pc, rc, pt, rt, n_c=nc, n_t=nt, alpha=alpha)


def _column(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A summed column: values with empties as 0, or the 0/1 indicator of a subset column."""
    if col.startswith("__has__"):
        return frame[col[len("__has__"):]].notna().to_numpy(np.float64)
    return frame[col].fillna(0).to_numpy(np.float64)


__all__ = ["bootstrap_metric", "bootstrap_test", "bootstrap_two_arms", "replicate_sums", "metric_value",
           "bootstrap_columns", "user_keys", "has_column"]
