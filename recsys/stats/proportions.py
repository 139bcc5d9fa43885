"""Two proportions from four counts: the two-artwork CTR experiment's test, its interval, and the
users a test would need (the words for people are :mod:`recsys.report.artwork_page`'s).

Everything here works on four numbers (users and clicks per artwork), so the same function
serves ``recsys artwork-test`` with two given click probabilities and a run inside the world.
The users a test would need are computed for a *planning* effect (the true CTRs where the
simulator knows them, else the stated ones), never for the observed difference (post hoc).
Each user sees the title once with the artwork of their arm, so the user is the unit and a
user's click is a Bernoulli draw: the two-proportion z-test applies directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from recsys.core.errors import InputError

TEST_NAME = "two-proportion z"


@dataclass(frozen=True)
class ArtworkTestResult:
    """Counts, rates and test results; ``diff`` is CTR(B) - CTR(A)."""

    users_a: int
    clicks_a: int
    users_b: int
    clicks_b: int
    alpha: float
    power: float
    ctr_a: float
    ctr_b: float
    diff: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    chi2: float
    chi2_p_value: float
    significant: bool
    winner: str | None                 # "A", "B", or None when not significant
    users_needed_per_arm: float | None  # for the planning effect at ``power``; inf if it is 0; None if
                                        # significant or no planning effect was given
    more_users_needed: int | None      # beyond the users already in the test (None as above)
    planning: tuple[float, float] | None  # the CTRs of A and B the users needed are computed for
    planning_basis: str | None         # what they are, e.g. "the true CTRs (known to the simulator)"

    def arm_ci(self, arm: str) -> tuple[float, float]:
        """Wilson interval of one arm's CTR (for the chart's error bars)."""
        n, c = (self.users_a, self.clicks_a) if arm == "A" else (self.users_b, self.clicks_b)
        z = stats.norm.ppf(1 - self.alpha / 2)
        p = c / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))

    def to_json(self, recommendation: str) -> dict:
        """docs/contracts.md section 6 (with the recommendation worded by the report), plus extra keys."""
        needed = self.users_needed_per_arm
        return {
            "arms": {"A": {"users": self.users_a, "clicks": self.clicks_a, "ctr": self.ctr_a},
                     "B": {"users": self.users_b, "clicks": self.clicks_b, "ctr": self.ctr_b}},
            "diff": self.diff, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
            "test": TEST_NAME, "recommendation": recommendation,
            "alpha": self.alpha, "z": self.z, "chi2": self.chi2, "chi2_p_value": self.chi2_p_value,
            "significant": self.significant, "winner": self.winner,
            "users_needed_per_arm": None if needed is None or not math.isfinite(needed) else int(math.ceil(needed)),
            "more_users_needed": self.more_users_needed,
            "users_needed_for": None if self.planning is None else {
                "basis": self.planning_basis, "ctr_a": self.planning[0], "ctr_b": self.planning[1],
                "diff": self.planning[1] - self.planning[0]},
        }


def users_per_arm(p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Users per arm for a two-sided two-proportion test to detect ``p_a`` vs ``p_b`` with
    ``power``: Cohen's arcsine effect size with the normal approximation (as statsmodels'
    NormalIndPower with proportion_effectsize). Infinite when the rates are equal."""
    h = abs(2 * math.asin(math.sqrt(p_b)) - 2 * math.asin(math.sqrt(p_a)))
    if h == 0:
        return math.inf
    z_a, z_b = stats.norm.isf(alpha / 2), stats.norm.isf(1 - power)
    return 2 * ((z_a + z_b) / h) ** 2


def two_artwork_test(users_a: int, clicks_a: int, users_b: int, clicks_b: int, alpha: float = 0.05,
                     power: float = 0.8, *, planning: tuple[float, float] | None = None,
                     planning_basis: str = "the planned CTRs") -> ArtworkTestResult:
    """The two-proportion z-test (pooled standard error, as statsmodels' ``proportions_ztest``),
    the Wald interval of the difference, the chi-squared test of the 2x2 table (which agrees:
    chi2 = z^2). Degenerate tables (no clicks at all, or all clicks)
    give z = 0 and p = 1.

    When the test is not significant, the users needed for ``power`` are computed for
    ``planning`` (the CTRs of A and B one plans for: the true ones where a simulator knows them,
    else a stated effect, ``planning_basis`` saying which), never for the observed rates: a power
    figure from the observed effect is post hoc and only restates the p-value. Without
    ``planning`` no users-needed figure is given."""
    for name, v in (("users_a", users_a), ("clicks_a", clicks_a), ("users_b", users_b), ("clicks_b", clicks_b)):
        if int(v) != v or v < 0:
            raise InputError(f"{name} must be a non-negative integer, got {v}")
    if users_a < 1 or users_b < 1:
        raise InputError("each artwork needs at least one user")
    if clicks_a > users_a or clicks_b > users_b:
        raise InputError("clicks cannot exceed users")
    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise InputError(f"power must be in (0, 1), got {power}")
    if planning is not None:
        planning = (float(planning[0]), float(planning[1]))
        if not all(0.0 <= p <= 1.0 for p in planning):
            raise InputError(f"planning CTRs must be probabilities in [0, 1], got {planning}")
    na, ca, nb, cb = int(users_a), int(clicks_a), int(users_b), int(clicks_b)
    pa, pb = ca / na, cb / nb
    diff = pb - pa
    pooled = (ca + cb) / (na + nb)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    if se_pooled > 0:
        z = diff / se_pooled
        p_value = float(2 * stats.norm.sf(abs(z)))
        table = np.array([[ca, na - ca], [cb, nb - cb]])
        chi2, chi2_p, _, _ = stats.chi2_contingency(table, correction=False)
    else:
        z, p_value, chi2, chi2_p = 0.0, 1.0, 0.0, 1.0
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    q = stats.norm.ppf(1 - alpha / 2)
    lo, hi = diff - q * se, diff + q * se
    significant = p_value < alpha
    winner = ("B" if diff > 0 else "A") if significant else None
    needed = more = None
    if not significant and planning is not None:
        needed = users_per_arm(*planning, alpha, power)
        more = None if not math.isfinite(needed) else max(0, 2 * math.ceil(needed) - (na + nb))
    partial = dict(users_a=na, clicks_a=ca, users_b=nb, clicks_b=cb, alpha=float(alpha), power=float(power),
                   ctr_a=pa, ctr_b=pb, diff=diff, ci_low=lo, ci_high=hi, z=float(z), p_value=p_value,
                   chi2=float(chi2), chi2_p_value=float(chi2_p), significant=significant, winner=winner,
                   users_needed_per_arm=needed, more_users_needed=more, planning=planning,
                   planning_basis=planning_basis if planning is not None else None)
    return ArtworkTestResult(**partial)
