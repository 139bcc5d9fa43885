"""Sample-ratio mismatch: are the arms' user counts consistent with the configured shares?

A mismatch means assignment or logging lost users unevenly, so every comparison is suspect.
The threshold is strict (p < 0.001) because the test runs on every experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy import stats as sps

from recsys.core.errors import InputError

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    p_value: float
    ok: bool
    chi2: float
    counts: dict[str, int]
    expected: dict[str, float]

    def to_dict(self) -> dict:
        return {"p_value": self.p_value, "ok": self.ok, "chi2": self.chi2, "counts": dict(self.counts),
                "expected": dict(self.expected)}


def check_shares(arms, shares: Mapping[str, float] | None) -> dict[str, float]:
    """Shares per arm (equal when None); InputError unless they cover the arms and sum to 1."""
    arms = list(arms)
    if shares is None:
        return {a: 1.0 / len(arms) for a in arms}
    shares = {str(k): float(v) for k, v in shares.items()}
    missing = [a for a in arms if a not in shares]
    if missing:
        raise InputError(f"no share given for arm(s) {', '.join(missing)}")
    extra = [a for a in shares if a not in arms]
    if extra:
        raise InputError(f"share given for unknown arm(s) {', '.join(extra)} (arms: {', '.join(arms)})")
    if any(not np.isfinite(v) or v <= 0 for v in shares.values()):
        raise InputError("arm shares must be positive numbers")
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        raise InputError(f"arm shares sum to {total:g}, not 1")
    return {a: shares[a] for a in arms}


def srm_test(counts: Mapping[str, int], shares: Mapping[str, float] | None = None,
             threshold: float = SRM_THRESHOLD) -> SrmResult:
    """Pearson's chi-squared goodness of fit of the arm counts to the shares."""
    arms = list(counts)
    shares = check_shares(arms, shares)
    obs = np.array([counts[a] for a in arms], dtype=np.float64)
    exp = obs.sum() * np.array([shares[a] for a in arms])
    if obs.sum() == 0:
        return SrmResult(np.nan, True, np.nan, {a: int(counts[a]) for a in arms}, dict(zip(arms, exp.tolist())))
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    p = float(sps.chi2.sf(chi2, len(arms) - 1))
    return SrmResult(p, bool(p >= threshold), chi2, {a: int(counts[a]) for a in arms}, dict(zip(arms, exp.tolist())))


def srm_by_segment(table, arms, shares: Mapping[str, float] | None = None,
                   threshold: float = SRM_THRESHOLD) -> list[dict]:
    """Users per arm in all and in each segment of a per-user table, with the sample-ratio test
    per row: a mismatch confined to one segment points at logging or eligibility there."""
    import pandas as pd

    arms = list(arms)
    counts = pd.crosstab(table["segment"].astype(str), table["arm"].astype(str)).reindex(columns=arms, fill_value=0)
    rows = [("all", counts.sum())] + [(str(s), counts.loc[s]) for s in counts.index]
    out = []
    for seg, row in rows:
        res = srm_test({a: int(row[a]) for a in arms}, shares, threshold)
        out.append({"segment": seg, **{a: int(row[a]) for a in arms}, "users": int(row.sum()),
                    "srm_p": res.p_value, "srm_ok": res.ok})
    return out
