"""Quantile metrics (median, p90, ...) of per-user values and the difference between arms.

The unit is the user: each user contributes one value (their watch minutes, their time to first
play), so users are the independent draws and the sample quantile's variance follows from the
order statistics. Two intervals for the quantile treatment effect Q_t(q) - Q_c(q):

* ``normal`` (default): the outer-CI approximation GrowthBook uses (``QuantileStatistic`` in
  ``packages/stats/gbstats/models/statistics.py``; Price & Bonett 2001). Per arm, the sample
  quantiles at levels q -+ z sqrt(q (1 - q) / n) bound a distribution-free interval for Q(q);
  its width / (2 z) estimates the standard error, with gbstats' factor (n - 1) / n. The arms
  are independent, so the variances add and the interval is normal.
* ``bootstrap``: a seeded bootstrap over users (Poisson(1) weights per user, the quantile of
  each replicate's weighted distribution), vectorised over replicates in chunks.

Users without a value (an empty cell, e.g. no play) are left out, as the mean metrics do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats.estimate import Effect

METHODS = ("normal", "bootstrap")
_CHUNK_CELLS = 1 << 22


def check_quantile(q) -> float:
    if not (isinstance(q, (int, float, np.floating)) and np.isfinite(q) and 0 < q < 1):
        raise InputError(f"quantile must be in (0, 1), got {q}")
    return float(q)


@dataclass(frozen=True)
class QuantileStats:
    """One arm's quantile and its outer-CI bounds (gbstats' QuantileStatistic with n_star = n)."""

    n: int
    q: float
    value: float
    lower: float
    upper: float

    @property
    def var_of_quantile(self) -> float:
        """Variance of the sample quantile: (n - 1) / n x ((upper - lower) / (2 z_0.975))^2."""
        if self.n <= 1:
            return float("nan")
        z = sps.norm.isf(0.025)
        return float((self.n - 1) / self.n * ((self.upper - self.lower) / (2 * z)) ** 2)


def quantile_stats(values, q: float) -> QuantileStats:
    """The sample quantile (linear interpolation) and the quantiles at q -+ 1.96 sqrt(q(1-q)/n)."""
    q = check_quantile(q)
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        nan = float("nan")
        return QuantileStats(0, q, nan, nan, nan)
    x = np.sort(x)
    half = sps.norm.isf(0.025) * np.sqrt(q * (1 - q) / n)
    lo, hi = np.quantile(x, [max(q - half, 0.0), min(q + half, 1.0)])
    return QuantileStats(n, q, float(np.quantile(x, q)), float(lo), float(hi))


def _weighted_quantiles(sorted_x: np.ndarray, q: float, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """The q-quantile (inverse of the weighted empirical distribution) of ``n_boot`` Poisson(1)
    reweightings of the users."""
    n = sorted_x.size
    out = np.empty(n_boot)
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    for s in range(0, n_boot, chunk):
        k = min(chunk, n_boot - s)
        w = rng.poisson(1.0, size=(k, n)).astype(np.float64)
        cum = np.cumsum(w, axis=1)
        target = q * cum[:, -1:]
        idx = np.argmax(cum >= target, axis=1)
        out[s:s + k] = np.where(cum[:, -1] > 0, sorted_x[idx], np.nan)
    return out


@dataclass(frozen=True)
class QuantileResult:
    q: float
    control: QuantileStats
    treatment: QuantileStats
    effect: Effect
    method: str

    def to_dict(self, alpha: float = 0.05) -> dict:
        return {**self.effect.to_dict(alpha), "quantile": self.q, "control_stats": asdict(self.control),
                "treatment_stats": asdict(self.treatment)}


def quantile_test(control_values, treatment_values, q: float, *, method: str = "normal", n_boot: int = 1000,
                  seed: int = 0) -> QuantileResult:
    """The difference of the arms' q-quantiles with its variance (``normal`` outer-CI or seeded
    ``bootstrap``); read it out with :class:`~recsys.stats.estimate.Effect` or
    :func:`~recsys.stats.bayes.bayes_readout`."""
    q = check_quantile(q)
    if method not in METHODS:
        raise InputError(f"unknown quantile method {method!r} (known: {', '.join(METHODS)})")
    c, t = quantile_stats(control_values, q), quantile_stats(treatment_values, q)
    if method == "normal":
        v_c, v_t = c.var_of_quantile, t.var_of_quantile
    else:
        if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 10):
            raise InputError(f"n_boot must be a whole number of at least 10, got {n_boot}")
        reps = []
        for arm, vals in enumerate((control_values, treatment_values)):
            x = np.sort(np.asarray(vals, dtype=np.float64))
            x = x[np.isfinite(x)]
            rng = np.random.default_rng([int(seed), arm, x.size])
            reps.append(_weighted_quantiles(x, q, int(n_boot), rng) if x.size else np.full(n_boot, np.nan))
        v_c, v_t = (float(np.nanvar(r, ddof=1)) for r in reps)
    eff = Effect(c.n, t.n, c.value, t.value, t.value - c.value, v_c + v_t, v_c, -v_c, np.inf,
                 f"quantile-{method}")
    return QuantileResult(q, c, t, eff, method)


def quantile_metric(df: pd.DataFrame, column: str, q: float, control: str, treatment: str, *,
                    arm_column: str = "arm", method: str = "normal", n_boot: int = 1000,
                    seed: int = 0) -> QuantileResult:
    """:func:`quantile_test` on a per-user table's column (empty cells left out)."""
    q = check_quantile(q)
    for col in (column, arm_column):
        if col not in df.columns:
            raise InputError(f"column '{col}' is not in the table")
    arms = df[arm_column]
    for arm in (control, treatment):
        if not (arms == arm).any():
            raise InputError(f"arm '{arm}' is not in the table")
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(np.float64)
    return quantile_test(values[(arms == control).to_numpy()], values[(arms == treatment).to_numpy()], q,
                         method=method, n_boot=n_boot, seed=seed)
