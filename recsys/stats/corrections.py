"""Multiple-comparison corrections within a family of (metric, segment, arm) rows.

Holm controls the family-wise error rate (the chance of any false claim); Benjamini-Hochberg
the false discovery rate (the expected share of false claims among the claims). Missing
p-values (a comparison that could not be computed) stay missing and do not count.
"""

from __future__ import annotations

import numpy as np

from recsys.core.errors import InputError

CORRECTIONS = ("holm", "bh", "none")


def _on_finite(p, adjust) -> np.ndarray:
    """Apply ``adjust`` to the finite p-values; missing ones stay missing and do not count."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = np.minimum(adjust(p[ok]), 1.0)
    return out


def _holm(q: np.ndarray) -> np.ndarray:
    m = q.size
    order = np.argsort(q, kind="stable")
    res = np.empty(m)
    res[order] = np.maximum.accumulate((m - np.arange(m)) * q[order])
    return res


def _bh(q: np.ndarray) -> np.ndarray:
    m = q.size
    order = np.argsort(q, kind="stable")[::-1]
    res = np.empty(m)
    res[order] = np.minimum.accumulate(q[order] * m / np.arange(m, 0, -1))
    return res


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values."""
    return _on_finite(p, _holm)


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (q-values)."""
    return _on_finite(p, _bh)


def adjust(p, method: str) -> np.ndarray:
    """Adjusted p-values by ``method`` (holm, bh, bonferroni or none)."""
    if method == "holm":
        return holm(p)
    if method == "bh":
        return benjamini_hochberg(p)
    if method == "bonferroni":
        p = np.asarray(p, dtype=np.float64)
        return np.minimum(p * np.isfinite(p).sum(), 1.0)
    if method == "none":
        return np.asarray(p, dtype=np.float64).copy()
    raise InputError(f"unknown correction {method!r} (choose from {', '.join(CORRECTIONS)})")


def adjust_rows(p: np.ndarray, method: str) -> np.ndarray:
    """:func:`adjust` applied to every row of a 2-d array of p-values at once (no missing values):
    for simulations that correct many small families."""
    p = np.asarray(p, dtype=np.float64)
    n, m = p.shape
    if method == "none" or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, axis=1, kind="stable")
    q = np.take_along_axis(p, order, axis=1)
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * q, axis=1)
    elif method == "bh":
        adj = np.minimum.accumulate((q * m / np.arange(1, m + 1))[:, ::-1], axis=1)[:, ::-1]
    else:
        raise InputError(f"unknown correction {method!r} (choose from {', '.join(CORRECTIONS)})")
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(adj, 1.0), axis=1)
    return out
