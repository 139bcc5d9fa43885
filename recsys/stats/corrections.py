"""Multiple-comparison corrections over all (metric, segment, arm) rows of an analysis.

Holm controls the family-wise error rate (the chance of any false claim); Benjamini-Hochberg
the false discovery rate (the expected share of false claims among the claims). Missing
p-values (a comparison that could not be computed) stay missing and do not count.
"""

from __future__ import annotations

import numpy as np

from recsys.errors import InputError

CORRECTIONS = ("holm", "bh", "none")


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (q-values)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")[::-1]
    adj = np.minimum.accumulate(q[order] * m / np.arange(m, 0, -1))
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def adjust(p, method: str) -> np.ndarray:
    """Adjusted p-values by ``method`` (holm, bh or none)."""
    if method == "holm":
        return holm(p)
    if method == "bh":
        return benjamini_hochberg(p)
    if method == "none":
        return np.asarray(p, dtype=np.float64).copy()
    raise InputError(f"unknown correction {method!r} (choose from {', '.join(CORRECTIONS)})")
