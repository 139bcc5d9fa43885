"""Post-stratification by a label column (segment, country, platform...): gbstats' estimator.

Within each cell (stratum) k the arms give a vector alpha_k of estimates: for a mean, the
control mean and the effect; for a ratio, the numerator's and the denominator's control mean
and effect; with a pre-period covariate, the same from a regression within the cell of the
outcome on (1, treatment, covariate) pooled over both arms, evaluated at the cell's pooled
covariate mean. The population estimate weights the cells by their observed shares
nu_k = n_k / n, and its covariance counts both the noise within cells and that of the shares
themselves (multinomial):

    mean = sum_k nu_k alpha_k,
    cov  = A (diag(nu) - nu nu') A' / n + sum_k nu_k Cov_k / n,

with Cov_k the cell's covariance of alpha_k scaled by its size. The effect (absolute, or a
ratio of the combined numerator and denominator) then follows by the delta method. This is
GrowthBook's ``EffectMomentsPostStratification`` (``packages/stats/gbstats/models/tests.py``:
``CreateStrataResult``, ``CreateStrataResultRegressionAdjusted``, ``CreateStrataResultRatio``,
``CreateStrataResultRegressionAdjustedRatio``, ``PostStratificationSummary(Ratio)``), including
its rule that a cell an arm is missing from, or with no variance, joins the largest cell.
Post-stratification removes the variance the label explains between cells, never adds bias
(the label is fixed at assignment), and reproduces the unstratified test when the label
explains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.stats.estimate import Effect, VarianceReduction, two_arm_effect
from recsys.stats.regression import regression_effect
from recsys.stats.summary import CupedStats, MeanStats, Moments, RatioStats, summarize


def _add(a, b):
    """The sum of two summary statistics of the same type (sums, cross sums and counts add)."""
    if isinstance(a, CupedStats):
        cross = tuple(tuple(x + y for x, y in zip(ra, rb)) for ra, rb in zip(a.cross, b.cross))
        return CupedStats(_add(a.post, b.post), _add(a.pre, b.pre), cross)
    return replace(a, **{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(a)})


def _unit_var(s, kind: str) -> float:
    """Per-unit variance of a mean statistic (p (1 - p) for a proportion, as gbstats)."""
    if kind == "proportion":
        return float(s.mean * (1 - s.mean)) if s.n else 0.0
    return float(s.variance) if s.n > 1 else 0.0


def _ratio_lambda(s: RatioStats) -> np.ndarray:
    return s.cov() if s.n > 1 else np.zeros((2, 2))


def _viable(c, t, kind: str, cuped_ratio: bool) -> bool:
    """gbstats' ``is_cell_viable``: both arms present, positive variance, 7+ users for CUPED ratios."""
    if c.n < 2 or t.n < 2:
        return False
    post_c, post_t = (c.post, t.post) if isinstance(c, CupedStats) else (c, t)
    if isinstance(post_c, RatioStats):
        ok = post_c.variance > 0 and post_t.variance > 0
    else:
        ok = _unit_var(post_c, kind) > 0 and _unit_var(post_t, kind) > 0
    return bool(ok) and not (cuped_ratio and c.n + t.n <= 6)


# --- one cell: alpha and its covariance (scaled by the cell's size n) --------------------------

def _cell_count(c: MeanStats, t: MeanStats, kind: str) -> tuple[np.ndarray, np.ndarray]:
    n = c.n + t.n
    va = _unit_var(c, kind) * n / c.n
    vb = _unit_var(t, kind) * n / t.n
    return np.array([c.mean, t.mean - c.mean]), np.array([[va, -va], [-va, va + vb]])


_RATIO_CONTRAST = np.array([[0, 0, 1, 0], [1, 0, -1, 0], [0, 0, 0, 1], [0, 1, 0, -1]], dtype=float)


def _cell_ratio(c: RatioStats, t: RatioStats) -> tuple[np.ndarray, np.ndarray]:
    n = c.n + t.n
    coefs = np.concatenate([t.means(), c.means()])
    v = np.zeros((4, 4))
    v[:2, :2] = _ratio_lambda(t) * n / t.n
    v[2:, 2:] = _ratio_lambda(c) * n / c.n
    return _RATIO_CONTRAST @ coefs, _RATIO_CONTRAST @ v @ _RATIO_CONTRAST.T


def _baseline_zero(c: CupedStats, t: CupedStats) -> bool:
    def pre_vars(s):
        return [s.pre.variance] if isinstance(s.pre, MeanStats) else \
            [s.pre.num_sum_squares - s.pre.num_sum ** 2 / s.n, s.pre.den_sum_squares - s.pre.den_sum ** 2 / s.n]
    return any(not (v > 0) for v in pre_vars(c) + pre_vars(t))


def _cell_cuped_count(c: CupedStats, t: CupedStats, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if _baseline_zero(c, t):
        return _cell_count(c.post, t.post, kind)
    n, nb = c.n + t.n, t.n
    sx_c, sx_t = c.pre.sum, t.pre.sum
    sxx = c.pre.sum_squares + t.pre.sum_squares
    xtx = np.array([[n, nb, sx_c + sx_t], [nb, nb, sx_t], [sx_c + sx_t, sx_t, sxx]], dtype=float)
    xty = np.array([c.post.sum + t.post.sum, t.post.sum, c.cross[0][0] + t.cross[0][0]])
    xtx_inv = np.linalg.inv(xtx)
    gamma = xtx_inv @ xty
    sigma = (c.post.sum_squares + t.post.sum_squares - xty @ xtx_inv @ xty) / (n - 3)
    coef_cov = sigma * xtx_inv
    pre = _add(c.pre, t.pre)
    xbar, var_x = pre.mean, pre.variance
    m0, m1 = np.array([1.0, 0.0, xbar]), np.array([0.0, 1.0, 0.0])
    v00 = m0 @ coef_cov @ m0 + (coef_cov[2, 2] + gamma[2] ** 2) * var_x / n
    v01 = m0 @ coef_cov @ m1
    v11 = coef_cov[1, 1]
    return np.array([m0 @ gamma, gamma[1]]), n * np.array([[v00, v01], [v01, v11]])


def _cell_cuped_ratio(c: CupedStats, t: CupedStats) -> tuple[np.ndarray, np.ndarray]:
    if _baseline_zero(c, t):
        return _cell_ratio(c.post, t.post)
    n, nb = c.n + t.n, t.n
    pc, pt = c.pre, t.pre       # RatioStats of (numerator, denominator) before
    qc, qt = c.post, t.post
    xtx = np.array([
        [n, nb, pc.num_sum + pt.num_sum, pc.den_sum + pt.den_sum],
        [nb, nb, pt.num_sum, pt.den_sum],
        [pc.num_sum + pt.num_sum, pt.num_sum, pc.num_sum_squares + pt.num_sum_squares,
         pc.num_den_sum + pt.num_den_sum],
        [pc.den_sum + pt.den_sum, pt.den_sum, pc.num_den_sum + pt.num_den_sum,
         pc.den_sum_squares + pt.den_sum_squares]], dtype=float)
    # cross[i][j]: post variable i (num, den) x pre variable j (num, den)
    xty_m = np.array([qc.num_sum + qt.num_sum, qt.num_sum, c.cross[0][0] + t.cross[0][0],
                      c.cross[0][1] + t.cross[0][1]])
    xty_d = np.array([qc.den_sum + qt.den_sum, qt.den_sum, c.cross[1][0] + t.cross[1][0],
                      c.cross[1][1] + t.cross[1][1]])
    xtx_inv = np.linalg.inv(xtx)
    g_m, g_d = xtx_inv @ xty_m, xtx_inv @ xty_d
    dof = n - 6
    s11 = (qc.num_sum_squares + qt.num_sum_squares - xty_m @ g_m) / dof
    s22 = (qc.den_sum_squares + qt.den_sum_squares - xty_d @ g_d) / dof
    s12 = (qc.num_den_sum + qt.num_den_sum - xty_m @ g_d - xty_d @ g_m + g_m @ xtx @ g_d) / dof
    coef_cov = np.kron(np.array([[s11, s12], [s12, s22]]), xtx_inv)
    gamma = np.concatenate([g_m, g_d])
    pre = _add(pc, pt)
    mbar, dbar = pre.num_sum / n, pre.den_sum / n
    base = pre.cov() / n        # covariance of the pooled pre means (numerator, denominator)
    contrast = np.zeros((4, 8))
    contrast[0, [0, 2, 3]] = [1.0, mbar, dbar]
    contrast[1, 1] = 1.0
    contrast[2, [4, 6, 7]] = [1.0, mbar, dbar]
    contrast[3, 5] = 1.0
    where = {0: slice(2, 4), 2: slice(6, 8)}
    v = np.zeros((4, 4))
    for i in range(4):
        for j in range(i + 1):
            extra = np.zeros((8, 8))
            if i in where and j in where:
                extra[where[i], where[j]] = base
            v[i, j] = v[j, i] = (contrast[j] @ coef_cov @ contrast[i] + np.trace(coef_cov @ extra)
                                 + gamma @ extra @ gamma)
    return contrast @ gamma, n * v


def _cell(c, t, kind: str):
    if isinstance(c, CupedStats):
        return _cell_cuped_ratio(c, t) if isinstance(c.post, RatioStats) else _cell_cuped_count(c, t, kind)
    return _cell_ratio(c, t) if isinstance(c, RatioStats) else _cell_count(c, t, kind)


def _combine(cells: list[tuple], kind: str) -> tuple[list[tuple], list[int]]:
    """Cells sorted by size; a cell that cannot stand alone joins the largest (gbstats'
    ``combine_cells_for_analysis``). Returns the cells and the merged cells' input positions."""
    order = sorted(range(len(cells)), key=lambda i: -(cells[i][0].n + cells[i][1].n))
    cuped_ratio = isinstance(cells[0][0], CupedStats) and isinstance(cells[0][0].post, RatioStats)
    kept = [cells[order[0]]]
    merged = []
    for i in order[1:]:
        c, t = cells[i]
        if _viable(c, t, kind, cuped_ratio):
            kept.append((c, t))
        else:
            kept[0] = (_add(kept[0][0], c), _add(kept[0][1], t))
            merged.append(i)
    return kept, merged


def poststratified_effect(kind: str, cells: Sequence[tuple], method: str = "poststrat") -> tuple[Effect, list[int]]:
    """The post-stratified effect from (control, treatment) summary statistics per cell, and the
    positions of cells merged into the largest one.

    Cell statistics: :class:`MeanStats` (``kind`` "mean" or "proportion"), :class:`RatioStats`
    ("ratio"), or :class:`CupedStats` of either for the regression-adjusted version.
    """
    if kind not in ("mean", "proportion", "ratio"):
        raise InputError(f"unknown metric kind {kind!r} (mean, ratio or proportion)")
    cells = list(cells)
    if not cells:
        raise InputError("post-stratification needs at least one cell")
    kept, merged = _combine(cells, kind)
    parts = [_cell(c, t, kind) for c, t in kept]
    a = np.column_stack([p[0] for p in parts])
    n_k = np.array([c.n + t.n for c, t in kept], dtype=float)
    n = n_k.sum()
    nu = n_k / n
    cov = a @ (np.diag(nu) - np.outer(nu, nu)) @ a.T / n + sum(w * p[1] for w, p in zip(nu, parts)) / n
    mean = a @ nu
    n_c = sum(c.n for c, _ in cells)
    n_t = sum(t.n for _, t in cells)
    if mean.size == 2:
        control, diff = mean
        return Effect(n_c, n_t, float(control), float(control + diff), float(diff), float(cov[1, 1]),
                      float(cov[0, 0]), float(cov[0, 1]), np.inf, method), merged
    m0, m1, m2, m3 = mean
    with np.errstate(all="ignore"):
        control, treatment = m0 / m2, (m0 + m1) / (m2 + m3)
        g_c = np.array([1 / m2, 0.0, -m0 / m2 ** 2, 0.0])
        g_t = np.array([1, 1, -(m0 + m1) / (m2 + m3), -(m0 + m1) / (m2 + m3)]) / (m2 + m3)
    g_d = g_t - g_c
    return Effect(n_c, n_t, float(control), float(treatment), float(treatment - control), float(g_d @ cov @ g_d),
                  float(g_c @ cov @ g_c), float(g_d @ cov @ g_c), np.inf, method), merged


@dataclass(frozen=True)
class PostStratResult(VarianceReduction):
    """A post-stratified effect beside the unstratified one (plain, or CUPED with the same covariate)."""

    effect: Effect
    unstratified: Effect
    by: str
    cells: tuple[str, ...]
    merged: tuple[str, ...]       # cells too small to stand alone, pooled into the largest
    cuped: Effect | None = None   # plain CUPED, for comparison

    @property
    def baseline(self) -> Effect:
        return self.unstratified

    def to_dict(self, alpha: float = 0.05) -> dict:
        return {**self.effect.to_dict(alpha), "by": self.by, "cells": list(self.cells), "merged": list(self.merged),
                "variance_reduction": self.variance_reduction,
                "variance_reduction_vs_cuped": self.variance_reduction_vs_cuped}


def poststratify(df: pd.DataFrame, control: str, treatment: str, metric: Sequence[str] | str, kind: str,
                 by: str = "segment", covariate: Sequence[str] | str | None = None, *,
                 cuped_covariate: Sequence[str] | str | None = None, arm_column: str = "arm") -> PostStratResult:
    """Post-stratify one metric of a per-user table by the label column ``by``.

    ``metric`` is one column (a mean or proportion) or (numerator, denominator); ``covariate``
    (same shape) makes it the regression-adjusted post-stratified estimator. The result carries
    the unstratified effect with the same covariate, and plain CUPED on ``cuped_covariate``
    (default: ``covariate``) for comparison.
    """
    metric = (metric,) if isinstance(metric, str) else tuple(metric)
    cov = None if covariate is None else ((covariate,) if isinstance(covariate, str) else tuple(covariate))
    cuped_cov = cov if cuped_covariate is None else (
        (cuped_covariate,) if isinstance(cuped_covariate, str) else tuple(cuped_covariate))
    if len(metric) != (2 if kind == "ratio" else 1):
        raise InputError(f"a {kind} metric takes {'two columns' if kind == 'ratio' else 'one column'}, got {metric}")
    for col in (by, arm_column, *metric, *(cov or ()), *(cuped_cov or ())):
        if col not in df.columns:
            raise InputError(f"column '{col}' is not in the table")
    if cov is not None and len(cov) != len(metric):
        raise InputError(f"the covariate of {'/'.join(metric)} must have {len(metric)} column(s), got {cov}")
    arms = set(df[arm_column].unique())
    for arm in (control, treatment):
        if arm not in arms:
            raise InputError(f"arm '{arm}' is not in the table")
    cols = list(dict.fromkeys((*metric, *(cov or ()), *(cuped_cov or ()))))
    sub = df[df[arm_column].isin([control, treatment])]
    labels = sub[by].astype(str)
    g = summarize(sub.assign(**{by: labels}), cols, [arm_column, by])
    pooled = summarize(sub, cols, [arm_column])
    cells_labels = sorted(labels.unique())
    empty = Moments.empty(cols)

    def stat(m):
        if cov is not None:
            return CupedStats.from_moments(m, metric, cov)
        return MeanStats.from_moments(m, metric[0]) if len(metric) == 1 else RatioStats.from_moments(m, *metric)

    cells = [(stat(g.get((control, lab), empty)), stat(g.get((treatment, lab), empty))) for lab in cells_labels]
    effect, merged = poststratified_effect(kind, cells, "poststrat" + ("+cuped" if cov else ""))
    mc, mt = pooled[(control,)], pooled[(treatment,)]
    unstrat = regression_effect(kind, mc, mt, metric, [cov] if cov else [])[0]
    if kind == "proportion" and cov is None:       # gbstats' p (1 - p) for a proportion
        unstrat = two_arm_effect("proportion", stat(mc), stat(mt))
    cuped = regression_effect(kind, mc, mt, metric, [cuped_cov])[0] if cuped_cov else None
    return PostStratResult(effect, unstrat, by, tuple(cells_labels), tuple(cells_labels[i] for i in merged), cuped)
