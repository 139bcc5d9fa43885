"""The interleaving preference test against hand counts and scipy, its level under exchangeable
credit, and the users-needed formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recsys.core.errors import InputError
from recsys.stats.interleaving import preference_test, users_needed


def test_preference_matches_hand_counts_and_scipy():
    # users: A wins 3 (2>1, 1>0, 5>2), B wins 1 (0<3), ties 2 (1=1, 2=2); one user without credit
    a = np.array([2, 1, 5, 0, 1, 2, 0])
    b = np.array([1, 0, 2, 3, 1, 2, 0])
    r = preference_test(a, b)
    assert (r.users, r.n, r.wins_a, r.wins_b, r.ties) == (7, 6, 3, 1, 2)
    assert r.delta == pytest.approx((3 + 2 / 2) / 6 - 0.5)          # = 1/6
    d = np.array([1, 1, 1, -1, 0, 0]) / 2
    t = stats.ttest_1samp(d, 0.0)
    assert r.p_value == pytest.approx(t.pvalue, rel=1e-12)
    lo, hi = t.confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert r.se == pytest.approx(d.std(ddof=1) / np.sqrt(6))
    assert r.sign_p_value == pytest.approx(stats.binomtest(3, 4).pvalue)
    assert r.credit_a == 11 and r.credit_b == 9
    assert r.winner is None                                          # p = 0.36


def test_preference_on_a_clear_winner():
    rng = np.random.default_rng(0)
    a = rng.poisson(1.3, 3000)
    b = rng.poisson(1.0, 3000)
    r = preference_test(a, b, alpha=0.01)
    assert r.winner == "A" and r.ci_low > 0
    assert preference_test(b, a).winner == "B"
    # the sign of the preference flips with the order of the rankers, its size does not
    assert preference_test(b, a).delta == pytest.approx(-r.delta)


def test_preference_holds_its_level_when_credit_is_a_coin():
    """Team draft with A against A: each credited card goes to A or B by a fair coin. Over 2,000
    replicates of 400 users the test rejects at about 5% (binomial 99.9% band)."""
    rng = np.random.default_rng(7)
    reps, n = 2000, 400
    clicks = rng.poisson(1.5, (reps, n))
    to_a = rng.binomial(clicks, 0.5)
    d = np.sign(2 * to_a - clicks) / 2.0
    active = clicks > 0
    # the same statistic as preference_test, vectorised over replicates (checked on a few below)
    m = active.sum(1)
    mean = (d * active).sum(1) / m
    sd = np.sqrt(((d - mean[:, None]) ** 2 * active).sum(1) / (m - 1))
    p = 2 * stats.t.sf(np.abs(mean / (sd / np.sqrt(m))), m - 1)
    for i in range(3):
        assert preference_test(to_a[i], clicks[i] - to_a[i]).p_value == pytest.approx(p[i])
    rate = (p < 0.05).mean()
    band = 3.3 * np.sqrt(0.05 * 0.95 / reps)
    assert abs(rate - 0.05) < band, rate


def test_preference_degenerate_and_bad_input():
    r = preference_test([0, 0], [0, 0])
    assert r.n == 0 and np.isnan(r.delta) and np.isnan(r.p_value)
    r = preference_test([1, 2], [0, 0])
    assert r.delta == 0.5 and np.isnan(r.p_value)                   # all agree: no variance to test
    with pytest.raises(InputError, match="credit_a must be finite and non-negative; user row 1"):
        preference_test([1, -1], [0, 0])
    with pytest.raises(InputError, match="one value per user each"):
        preference_test([1, 2, 3], [0, 0])


def test_users_needed_is_the_textbook_formula():
    # effect 0.1 with se 0.05 at 1,000 users: z = 1.95996 + 0.84162 = 2.80158; (2.80158 * 0.5)^2 * 1000
    assert users_needed(0.1, 0.05, 1000) == pytest.approx(1000 * (2.801585 * 0.5) ** 2, rel=1e-5)
    assert users_needed(0.0, 0.05, 1000) == float("inf")


def test_design_comparison_by_hand():
    import pandas as pd

    from recsys.stats.interleaving import design_comparison

    # three worlds; A/B effect .01, .02, .03 with se .01 on 1,000 users (per-user variance 0.1);
    # interleaving effect .05 each with se .01 on 1,000 users
    rows = pd.DataFrame({
        "seed": [1, 2, 3] * 2, "pair": ["B vs A"] * 6, "first": ["A"] * 6, "second": ["B"] * 6,
        "design": ["ab"] * 3 + ["interleaving"] * 3, "effect": [0.01, 0.02, 0.03, 0.05, 0.05, 0.05],
        "se": [0.01] * 6, "users": [1000] * 6, "p_value": [0.3, 0.04, 0.01, 1e-6, 1e-6, 1e-6],
        "rel_lift": [0.1, 0.2, 0.3, np.nan, np.nan, np.nan]})
    r = design_comparison(rows, n_boot=500).iloc[0]
    z2 = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2
    assert r["ref_users_needed"] == pytest.approx(z2 * 0.1 / 0.02 ** 2)
    assert r["users_needed"] == pytest.approx(z2 * 0.1 / 0.05 ** 2)
    assert r["ratio"] == pytest.approx(6.25)
    lo, hi = r["ratio_ci"]
    assert lo <= 6.25 <= hi and lo >= (0.05 / 0.03) ** 2 - 1e-9 and hi <= (0.05 / 0.01) ** 2 + 1e-9
    assert r["winners_agree"] and r["worlds_agreeing"] == 1.0
    assert r["ref_significant"] == pytest.approx(2 / 3)
