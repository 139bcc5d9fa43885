"""Does the effect differ across segments? Cochran's Q on the per-segment estimates.

Segments are disjoint, so their estimates are independent. Under "one common effect" the
inverse-variance weighted squared deviations from the pooled effect sum to a chi-squared with
(segments - 1) degrees of freedom. I^2 is the share of the spread beyond chance. A small
p-value supports "the effect differs by segment"; without it, a single segment's win is more
likely the best of several noisy cuts than a real difference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class HeterogeneityResult:
    q: float
    df: int
    p_value: float
    i2: float              # share of between-segment variation beyond chance, in [0, 1]
    pooled: float          # inverse-variance weighted common effect
    pooled_se: float
    segments: int          # segments with a usable estimate

    def to_dict(self) -> dict:
        return asdict(self)


def cochran_q(effects, variances) -> HeterogeneityResult:
    """Cochran's Q test of equal effects, from estimates and their variances (NaNs skipped)."""
    e = np.asarray(effects, dtype=np.float64)
    v = np.asarray(variances, dtype=np.float64)
    ok = np.isfinite(e) & np.isfinite(v) & (v > 0)
    e, v = e[ok], v[ok]
    k = int(e.size)
    if k < 2:
        return HeterogeneityResult(np.nan, max(k - 1, 0), np.nan, np.nan,
                                   float(e[0]) if k else np.nan, float(np.sqrt(v[0])) if k else np.nan, k)
    w = 1.0 / v
    pooled = float((w * e).sum() / w.sum())
    q = float((w * (e - pooled) ** 2).sum())
    df = k - 1
    p = float(sps.chi2.sf(q, df))
    i2 = float(max(0.0, (q - df) / q)) if q > 0 else 0.0
    return HeterogeneityResult(q, df, p, i2, pooled, float(np.sqrt(1.0 / w.sum())), k)
