"""The per-user preference test of an interleaving experiment (users as units).

Each user who credited anything to either ranker (clicks, or qualified plays, on the cards each
ranker contributed to their merged pages) counts once: a win for A when A got more credit, a win
for B when B did, a tie otherwise (Chapelle, Joachims, Radlinski and Yue, TOIS 2012, aggregate
per query; here per user, the unit an A/B test randomises). The preference is

    delta = (wins_A + ties / 2) / n - 1/2 = mean(d) / 2,   d = sign(credit_A - credit_B),

positive when users prefer A. Its interval and p-value are the one-sample t on ``d`` (a user's
``d`` is independent of every other user's; the t interval is the usual large-sample interval
of a mean), beside the exact sign test on the non-tied users. Under team draft with rankers that
are exchangeable (A against A) every card's team is a fair coin, so ``d`` is symmetric about 0
and the test holds its level (``tests/stats/test_interleaving.py``; the A-vs-A calibration in
the world is a slow test).

:func:`users_needed` turns an observed effect and its standard error into the users an experiment
needs for a given power; it serves interleaving and A/B results alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from recsys.core.errors import InputError


@dataclass(frozen=True)
class Preference:
    """The result of :func:`preference_test` (``delta`` > 0: users prefer A)."""

    credit: str
    users: int            # users in the table
    n: int                # users with any credit (the test's units)
    wins_a: int
    wins_b: int
    ties: int
    delta: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float        # two-sided, t on the per-user signs
    sign_p_value: float   # two-sided exact binomial test of wins_a against wins_b
    credit_a: float       # total credit of each ranker
    credit_b: float
    alpha: float

    @property
    def winner(self) -> str | None:
        """"A" or "B" when the test rejects at ``alpha``, else None."""
        if not self.p_value < self.alpha:
            return None
        return "A" if self.delta > 0 else "B"

    def to_dict(self) -> dict:
        return {**asdict(self), "winner": self.winner}


def _counts(values, name: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    if a.ndim != 1:
        raise InputError(f"{name} must be one value per user, got shape {a.shape}")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{name} must be finite and non-negative; user row {i} has {a[i]:g}")
    return a


def preference_test(credit_a, credit_b, *, credit: str = "clicks", alpha: float = 0.05) -> Preference:
    """The preference of users between rankers A and B from each user's credit to each (see the
    module docstring). Users with no credit are left out; fewer than two users with credit, or
    every one of them tied, give NaN statistics."""
    a, b = _counts(credit_a, "credit_a"), _counts(credit_b, "credit_b")
    if a.shape != b.shape:
        raise InputError(f"credit_a and credit_b must have one value per user each, got {len(a)} and {len(b)}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    active = (a + b) > 0
    d = np.sign(a[active] - b[active])
    n = int(active.sum())
    wins_a, wins_b = int((d > 0).sum()), int((d < 0).sum())
    nan = float("nan")
    if n >= 2 and np.any(d != d[0]):
        half = d / 2
        mean = float(half.mean())
        se = float(half.std(ddof=1) / np.sqrt(n))
        q = float(stats.t.ppf(1 - alpha / 2, n - 1))
        p = float(2 * stats.t.sf(abs(mean / se), n - 1))
        lo, hi = mean - q * se, mean + q * se
    elif n >= 1:
        mean, se, lo, hi, p = float(d.mean() / 2), nan, nan, nan, nan
    else:
        mean, se, lo, hi, p = nan, nan, nan, nan, nan
    sign_p = float(stats.binomtest(wins_a, wins_a + wins_b).pvalue) if wins_a + wins_b else nan
    return Preference(credit=credit, users=len(a), n=n, wins_a=wins_a, wins_b=wins_b, ties=n - wins_a - wins_b,
                      delta=mean, se=se, ci_low=lo, ci_high=hi, p_value=p, sign_p_value=sign_p,
                      credit_a=float(a.sum()), credit_b=float(b.sum()), alpha=alpha)


def users_needed(effect: float, se: float, users: float, *, power: float = 0.8, alpha: float = 0.05) -> float:
    """Users needed for a two-sided level-``alpha`` test to reach ``power`` against ``effect``,
    given its standard error ``se`` observed with ``users`` users (the variance falls as 1/users):
    ``users * ((z_{1-alpha/2} + z_power) * se / effect) ** 2``; inf when the effect is 0."""
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise InputError("power and alpha must be in (0, 1)")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(users * (z * se / effect) ** 2) if effect != 0 else float("inf")
