"""The per-user preference test of an interleaving experiment (users as units).

Each user who credited anything to either ranker (clicks, or qualified plays, on the cards each
ranker contributed to their merged pages) counts once: a win for A when A got more credit, a win
for B when B did, a tie otherwise (Chapelle, Joachims, Radlinski and Yue, TOIS 2012, aggregate
per query; here per user, the unit an A/B test randomises). The preference is

    delta = (wins_A + ties / 2) / n - 1/2 = mean(d) / 2,   d = sign(credit_A - credit_B),

positive when users prefer A. Its interval and p-value are the one-sample t on ``d`` (a user's
``d`` is independent of every other user's; the t interval is the usual large-sample interval
of a mean), beside the exact sign test on the non-tied users, and the mean per-user credit
difference with its t test (which weighs a user by how much they clicked). Under team draft with rankers that
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
    diff: float = float("nan")       # mean per-user credit difference A - B (users with credit)
    diff_se: float = float("nan")
    diff_p_value: float = float("nan")   # two-sided t on the per-user differences

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
    diff = a[active] - b[active]
    diff_mean, diff_se, diff_p = (float(diff.mean()) if n else nan), nan, nan
    if n >= 2 and diff.std() > 0:
        diff_se = float(diff.std(ddof=1) / np.sqrt(n))
        diff_p = float(2 * stats.t.sf(abs(diff_mean / diff_se), n - 1))
    return Preference(credit=credit, users=len(a), n=n, wins_a=wins_a, wins_b=wins_b, ties=n - wins_a - wins_b,
                      delta=mean, se=se, ci_low=lo, ci_high=hi, p_value=p, sign_p_value=sign_p,
                      credit_a=float(a.sum()), credit_b=float(b.sum()), alpha=alpha, diff=diff_mean,
                      diff_se=diff_se, diff_p_value=diff_p)


def users_needed(effect: float, se: float, users: float, *, power: float = 0.8, alpha: float = 0.05) -> float:
    """Users needed for a two-sided level-``alpha`` test to reach ``power`` against ``effect``,
    given its standard error ``se`` observed with ``users`` users (the variance falls as 1/users):
    ``users * ((z_{1-alpha/2} + z_power) * se / effect) ** 2``; inf when the effect is 0."""
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise InputError("power and alpha must be in (0, 1)")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(users * (z * se / effect) ** 2) if effect != 0 else float("inf")


def _needed(effect: np.ndarray, var_unit: np.ndarray, z: float) -> float:
    """Users for power from replicates: z^2 * mean per-user variance / mean effect^2."""
    m = effect.mean()
    with np.errstate(divide="ignore"):
        return float(z * z * var_unit.mean() / (m * m)) if m != 0 else float("inf")


def design_comparison(rows, *, reference: str = "ab", power: float = 0.8, alpha: float = 0.05, n_boot: int = 2000,
                      seed: int = 0, level: float = 0.95):
    """Users each design needs, per pair, from replicate worlds.

    ``rows``: a DataFrame with one row per (seed, pair, design) and the columns ``effect`` (the
    effect for the second ranker, on one scale per design), ``se``, ``users`` and ``p_value``
    (:func:`recsys.experiment.sensitivity.sensitivity_replicates`). Per pair and design: the mean
    effect over worlds, the per-user variance ``se^2 * users`` averaged over worlds, and the users
    needed for ``power`` at ``alpha`` (two-sided): ``(z_{1-alpha/2} + z_power)^2 * variance /
    mean effect^2``. One row per pair and design other than ``reference``: the ratio of the
    reference design's users to this design's, with a percentile bootstrap interval over worlds
    (worlds resampled together, as each ran every design), and whether the designs' winners
    (the signs of their mean effects) agree.
    """
    import pandas as pd

    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    df = rows.copy()
    df["var_unit"] = df["se"] ** 2 * df["users"]
    rng = np.random.default_rng(seed)
    q = [(1 - level) / 2, 1 - (1 - level) / 2]

    def ci(x):   # order statistics (no interpolation, so an infinite draw stays infinite)
        return [float(v) for v in np.quantile(np.nan_to_num(x, nan=np.inf), q, method="inverted_cdf")]

    out = []
    for pair, g in df.groupby("pair", sort=False):
        ref = g[g["design"] == reference].sort_values("seed")
        e_ref, v_ref = ref["effect"].to_numpy(float), ref["var_unit"].to_numpy(float)
        k = len(ref)
        idx = rng.integers(0, k, (n_boot, k))
        with np.errstate(divide="ignore", invalid="ignore"):
            boot_ref = z * z * v_ref[idx].mean(1) / e_ref[idx].mean(1) ** 2
        n_ref = _needed(e_ref, v_ref, z)
        for design in [d for d in dict.fromkeys(g["design"]) if d != reference]:
            other = g[g["design"] == design].sort_values("seed")
            if list(other["seed"]) != list(ref["seed"]):
                raise InputError(f"pair {pair!r}: every design must come from the same worlds")
            e, v = other["effect"].to_numpy(float), other["var_unit"].to_numpy(float)
            n_d = _needed(e, v, z)
            with np.errstate(divide="ignore", invalid="ignore"):
                boot = z * z * v[idx].mean(1) / e[idx].mean(1) ** 2
                ratio = boot_ref / boot
            out.append({
                "pair": pair, "first": ref["first"].iloc[0], "second": ref["second"].iloc[0], "design": design,
                "worlds": k, "ref_effect": float(e_ref.mean()), "ref_effect_se": _sem(e_ref),
                "ref_rel_lift": float(ref["rel_lift"].mean()), "effect": float(e.mean()), "effect_se": _sem(e),
                "users_run": float(other["users"].mean()),
                "ref_users_needed": n_ref, "ref_users_needed_ci": ci(boot_ref),
                "users_needed": n_d, "users_needed_ci": ci(boot),
                "ratio": n_ref / n_d if n_d > 0 else float("inf"), "ratio_ci": ci(ratio),
                "winners_agree": bool(np.sign(e_ref.mean()) == np.sign(e.mean())),
                "worlds_agreeing": float((np.sign(e_ref) == np.sign(e)).mean()),
                "ref_significant": float((ref["p_value"] < alpha).mean()),
                "significant": float((other["p_value"] < alpha).mean()),
            })
    return pd.DataFrame(out)


def _sem(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
