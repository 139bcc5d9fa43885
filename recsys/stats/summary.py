"""Summary statistics: every test in recsys.stats runs on these, never on raw rows.

``summarize`` reduces a per-user table to one :class:`Moments` per group (arm x segment): the
user count, the sum of every column and the sums of all their pairwise products, in one pass.
Means, ratios of sums, their variances and the cross-covariances CUPED needs all follow from
those sums, so a million-row table costs one grouping and a few small matrix products.

The per-metric views (:class:`MeanStats`, :class:`RatioStats`, :class:`CupedStats`) hold just
the sums a test needs and know their point estimate and, by the delta method, its variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import pandas as pd

#: rows per block when accumulating cross sums (bounds memory at ~ block x columns x 8 bytes)
_BLOCK = 1 << 18


def _div(a, b) -> np.float64:
    """a / b as a float64, NaN or inf instead of an exception or a warning."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.float64(a) / np.float64(b)


@dataclass(frozen=True, eq=False)
class Moments:
    """Sufficient statistics of one group of users over named columns.

    ``sums[j]`` is the sum of column j and ``cross[i, j]`` the sum of the products of columns
    i and j over the group's users (so the diagonal holds the sums of squares).
    """

    n: int
    columns: tuple[str, ...]
    sums: np.ndarray
    cross: np.ndarray

    def __add__(self, other: "Moments") -> "Moments":
        if other.columns != self.columns:
            raise ValueError("cannot add moments over different columns")
        return Moments(self.n + other.n, self.columns, self.sums + other.sums, self.cross + other.cross)

    @classmethod
    def empty(cls, columns: Sequence[str]) -> "Moments":
        k = len(columns)
        return cls(0, tuple(columns), np.zeros(k), np.zeros((k, k)))

    def _i(self, col: str) -> int:
        return self.columns.index(col)

    def sum(self, col: str) -> float:
        return float(self.sums[self._i(col)])

    def cross_sum(self, a: str, b: str) -> float:
        return float(self.cross[self._i(a), self._i(b)])


def summarize(df: pd.DataFrame, columns: Sequence[str], by: Sequence[str] = ("arm", "segment")) -> dict[tuple, Moments]:
    """One :class:`Moments` per group of ``by``, over ``columns`` (numeric, no missing values).

    Groups come from one pandas grouping; each group's sums of products are accumulated as
    block matrix products on rows sorted by group, so memory stays bounded on large tables.
    Keys are tuples of the ``by`` values.
    """
    columns = tuple(columns)
    by = list(by)
    grouping = df.groupby(by, sort=True, observed=True, dropna=False)
    codes = grouping.ngroup().to_numpy()
    keys = [k if isinstance(k, tuple) else (k,) for k in grouping.size().index]
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(keys))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    arrays = [df[c].to_numpy(dtype=np.float64, copy=False) for c in columns]
    k = len(columns)
    out: dict[tuple, Moments] = {}
    for g, key in enumerate(keys):
        sums = np.zeros(k)
        cross = np.zeros((k, k))
        for start in range(bounds[g], bounds[g + 1], _BLOCK):
            rows = order[start:min(start + _BLOCK, bounds[g + 1])]
            block = np.empty((len(rows), k))
            for j, arr in enumerate(arrays):
                block[:, j] = arr[rows]
            sums += block.sum(axis=0)
            cross += block.T @ block
        out[key] = Moments(int(counts[g]), columns, sums, cross)
    return out


@dataclass(frozen=True)
class MeanStats:
    """Sums of one per-user value: its mean, and the variance of that mean (s^2 / n)."""

    n: int
    sum: float
    sum_squares: float

    @classmethod
    def from_moments(cls, m: Moments, col: str, count_col: str | None = None) -> "MeanStats":
        """From group moments; ``count_col`` (a 0/1 column) restricts the mean to users with a value."""
        n = m.n if count_col is None else int(round(m.sum(count_col)))
        return cls(n, m.sum(col), m.cross_sum(col, col))

    @property
    def mean(self) -> np.float64:
        return _div(self.sum, self.n)

    @property
    def variance(self) -> np.float64:
        """Sample variance of the per-user values (n - 1 in the denominator)."""
        return max(_div(self.sum_squares - self.sum * self.mean, self.n - 1), np.float64(0.0)) \
            if self.n > 1 else np.float64(np.nan)

    @property
    def var_of_mean(self) -> np.float64:
        return _div(self.variance, self.n)

    # the delta-method interface shared with RatioStats
    def means(self) -> np.ndarray:
        return np.array([self.mean])

    def gradient(self) -> np.ndarray:
        return np.array([1.0])

    def cov(self) -> np.ndarray:
        return np.array([[self.variance]])


@dataclass(frozen=True)
class RatioStats:
    """Sums of a numerator and a denominator per user: the ratio of sums and its delta-method variance."""

    n: int
    num_sum: float
    num_sum_squares: float
    den_sum: float
    den_sum_squares: float
    num_den_sum: float

    @classmethod
    def from_moments(cls, m: Moments, num: str, den: str) -> "RatioStats":
        return cls(m.n, m.sum(num), m.cross_sum(num, num), m.sum(den), m.cross_sum(den, den),
                   m.cross_sum(num, den))

    @property
    def mean(self) -> np.float64:
        return _div(self.num_sum, self.den_sum)

    def means(self) -> np.ndarray:
        return np.array([_div(self.num_sum, self.n), _div(self.den_sum, self.n)])

    def gradient(self) -> np.ndarray:
        """d(mean_num / mean_den) / d(mean_num, mean_den)."""
        mn, md = self.means()
        return np.array([_div(1.0, md), -_div(mn, md * md)])

    def cov(self) -> np.ndarray:
        """Sample covariance matrix of (numerator, denominator) per user."""
        if self.n < 2:
            return np.full((2, 2), np.nan)
        mn, md = self.means()
        n1 = self.n - 1
        vn = (self.num_sum_squares - self.n * mn * mn) / n1
        vd = (self.den_sum_squares - self.n * md * md) / n1
        c = (self.num_den_sum - self.n * mn * md) / n1
        return np.array([[max(vn, 0.0), c], [c, max(vd, 0.0)]])

    @property
    def variance(self) -> np.float64:
        """Variance of the linearised per-user value (num - ratio * den) / mean(den)."""
        g = self.gradient()
        with np.errstate(invalid="ignore"):
            return np.float64(max(g @ self.cov() @ g, 0.0)) if np.all(np.isfinite(g)) else np.float64(np.nan)

    @property
    def var_of_mean(self) -> np.float64:
        return _div(self.variance, self.n)


Stats = Union[MeanStats, RatioStats]


def stats_from_moments(m: Moments, cols: Sequence[str], count_col: str | None = None) -> Stats:
    """A MeanStats for one column, a RatioStats for (numerator, denominator)."""
    if len(cols) == 1:
        return MeanStats.from_moments(m, cols[0], count_col)
    return RatioStats.from_moments(m, cols[0], cols[1])


@dataclass(frozen=True)
class CupedStats:
    """A metric's sums, its covariate's sums and their cross sums, for one group.

    ``cross[i][j]`` is the sum over users of metric variable i times covariate variable j
    (variables: (value,) for a mean, (numerator, denominator) for a ratio).
    """

    post: Stats
    pre: Stats
    cross: tuple[tuple[float, ...], ...]

    @classmethod
    def from_moments(cls, m: Moments, post_cols: Sequence[str], pre_cols: Sequence[str]) -> "CupedStats":
        cross = tuple(tuple(m.cross_sum(a, b) for b in pre_cols) for a in post_cols)
        return cls(stats_from_moments(m, post_cols), stats_from_moments(m, pre_cols), cross)

    @property
    def n(self) -> int:
        return self.post.n

    def joint_cov(self) -> np.ndarray:
        """Covariance matrix (2 x 2) of the estimators (metric, covariate), by the delta method."""
        n = self.n
        if n < 2:
            return np.full((2, 2), np.nan)
        mp, mq = self.post.means(), self.pre.means()
        cross = np.asarray(self.cross, dtype=np.float64)
        c_pq = (cross - n * np.outer(mp, mq)) / (n - 1)
        gp, gq = self.post.gradient(), self.pre.gradient()
        with np.errstate(invalid="ignore"):
            v_post = gp @ self.post.cov() @ gp
            v_pre = gq @ self.pre.cov() @ gq
            c = gp @ c_pq @ gq
        return np.array([[v_post, c], [c, v_pre]]) / n
