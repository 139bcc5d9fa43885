"""recsys.stats.paired: the paired test against scipy's ttest_rel for a mean, against an
independent delta-method computation for a ratio, its null rate, and that pairing pays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recsys.stats.inference import delta_test
from recsys.stats.paired import paired_test
from recsys.stats.summary import RatioStats


def users(rng, n, lift=0.0):
    """Per-user clicks and impressions under control and treatment: a shared user level (the
    common random numbers), a small independent part."""
    imps = rng.poisson(rng.gamma(2.0, 20.0, n)) + 1
    p = rng.beta(2, 8, n)
    imps_t = imps + rng.poisson(1.0, n)
    clicks_c = rng.binomial(imps, p)
    clicks_t = rng.binomial(imps_t, np.clip(p * (1 + lift), 0, 1))
    return clicks_c, clicks_t, imps, imps_t


def test_a_mean_is_the_paired_t_test():
    rng = np.random.default_rng(1)
    base = rng.gamma(2.0, 50.0, 800)
    c, t = base + rng.normal(0, 10, 800), base * 1.03 + rng.normal(0, 10, 800)
    res = paired_test(c, t)
    ref = stats.ttest_rel(t, c)
    assert res.diff == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    assert res.diff / res.se == pytest.approx(ref.statistic, rel=1e-9)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(abs(ref.statistic)), rel=1e-9)


def test_a_ratio_matches_the_delta_method_on_the_four_sums():
    rng = np.random.default_rng(2)
    cc, ct, ic, it = users(rng, 600, lift=0.05)
    res = paired_test(cc, ct, ic, it)
    # independently: the gradient of R_t - R_c at the means of (clicks_t, imps_t, clicks_c, imps_c)
    X = np.column_stack([ct, it, cc, ic]).astype(float)
    m = X.mean(0)
    grad = np.array([1 / m[1], -m[0] / m[1] ** 2, -1 / m[3], m[2] / m[3] ** 2])
    var = grad @ np.cov(X.T, ddof=1) @ grad / len(X)
    assert res.diff == pytest.approx(ct.sum() / it.sum() - cc.sum() / ic.sum(), rel=1e-12)
    assert res.se ** 2 == pytest.approx(var, rel=1e-9)
    # the relative interval brackets the relative lift and agrees with the test
    assert res.rel_ci_low < res.rel_lift < res.rel_ci_high
    assert (res.rel_ci_low > 0) == (res.ci_low > 0)


def test_a_null_rejects_at_the_nominal_rate():
    rng = np.random.default_rng(3)
    # the null: treatment draws exchangeable with the control's (same impressions and rate)
    ps = []
    for _ in range(1500):
        imps = rng.poisson(rng.gamma(2.0, 20.0, 300)) + 1
        p = rng.beta(2, 8, 300)
        ps.append(paired_test(rng.binomial(imps, p), rng.binomial(imps, p), imps, imps).p_value)
    rate = np.mean(np.asarray(ps) < 0.05)
    assert 0.035 < rate < 0.067, rate     # 1,500 replicates: the 99.9% band around 5%


def ratio_stats(num, den) -> RatioStats:
    num, den = np.asarray(num, float), np.asarray(den, float)
    return RatioStats(len(num), num.sum(), (num * num).sum(), den.sum(), (den * den).sum(), (num * den).sum())


def test_pairing_narrows_the_interval_against_independent_groups():
    rng = np.random.default_rng(4)
    cc, ct, ic, it = users(rng, 2000, lift=0.02)
    paired = paired_test(cc, ct, ic, it)
    unpaired = delta_test(ratio_stats(cc, ic), ratio_stats(ct, it))   # as if the arms were other users
    assert paired.diff == pytest.approx(unpaired.diff, rel=1e-9)
    assert paired.se < 0.8 * unpaired.se


def test_mismatched_users_are_refused():
    with pytest.raises(ValueError, match="same users"):
        paired_test(np.ones(3), np.ones(4))
