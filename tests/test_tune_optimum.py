"""recsys.tune.optimum: the quadratic's coefficients and HC1 covariance against statsmodels, the
vertex and Fieller's interval on data with a known peak (and its coverage), no peak where there
is no curvature, and the test of the difference between two peaks."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from recsys.tune.optimum import difference, peak, quadratic_fit, within_fit

GRID = np.array([0.0, 0.3, 0.6, 0.9, 1.2])


def draw(rng, n, vertex, curvature, *, replicates=3, noise=1.0, level_sd=0.5, with_x=False):
    """Per-user values of a concave quadratic in the weight, one level per replicate, skewed noise."""
    w = rng.choice(GRID, n)
    g = rng.integers(0, replicates, n)
    x = rng.gamma(2.0, 1.0, n)
    level = rng.normal(0, level_sd, replicates)[g]
    y = level - curvature * (w - vertex) ** 2 + noise * (rng.exponential(1.0, n) - 1.0) * (1 + w)
    if with_x:
        y = y + 0.8 * x
    return y, w, g, x


def test_coefficients_and_hc1_covariance_match_statsmodels():
    rng = np.random.default_rng(1)
    y, w, g, x = draw(rng, 3000, 0.5, 2.0, with_x=True)
    beta, cov = quadratic_fit(y, w, g, x)
    X = np.column_stack([np.eye(3)[g], w, w * w, x - x.mean()])
    ref = sm.OLS(y, X).fit(cov_type="HC1")
    np.testing.assert_allclose(beta, ref.params[3:5], rtol=1e-9)
    np.testing.assert_allclose(cov, ref.cov_params()[3:5, 3:5], rtol=1e-8)


def test_vertex_interval_and_flags_on_a_known_peak():
    rng = np.random.default_rng(2)
    y, w, g, _ = draw(rng, 20_000, 0.55, 3.0)
    p = peak(y, w, g)
    assert p.peak and p.within_grid
    assert p.ci_low < 0.55 < p.ci_high and p.ci_high - p.ci_low < 0.2
    assert p.ci_low < p.weight < p.ci_high and abs(p.weight - 0.55) < 3 * p.se
    assert p.b2 < 0 and p.b2_p < 1e-6
    # lower is better: the same data turned around has the same vertex, a minimum
    q = peak(-y, w, g, lower_is_better=True)
    assert q.peak and q.weight == pytest.approx(p.weight)


def test_no_curvature_no_peak():
    rng = np.random.default_rng(3)
    w = rng.choice(GRID, 4000)
    y = 0.3 * w + rng.normal(0, 1, 4000)           # a straight line: no vertex to find
    p = peak(y, w, np.zeros(4000, int))
    assert not p.peak and not p.within_grid
    assert not (np.isfinite(p.ci_low) and p.ci_low > 0 and p.ci_high < 1.2)


def test_fieller_interval_covers_the_vertex_at_about_the_nominal_rate():
    rng = np.random.default_rng(4)
    hits = 0
    reps = 300
    for _ in range(reps):
        y, w, g, _ = draw(rng, 1500, 0.5, 3.0)
        p = peak(y, w, g)
        hits += bool(np.isfinite(p.ci_low) and p.ci_low <= 0.5 <= p.ci_high)
    # 95% nominal; a binomial 99.9% band around it for 300 replicates
    lo, hi = stats.binom.ppf([0.0005, 0.9995], reps, 0.95) / reps
    assert lo <= hits / reps <= hi, hits / reps


def test_difference_of_two_peaks():
    rng = np.random.default_rng(5)
    a = peak(*draw(rng, 20_000, 0.3, 3.0)[:3])
    b = peak(*draw(rng, 20_000, 0.8, 3.0)[:3])
    d = difference(a, b)
    assert d["diff"] == pytest.approx(a.weight - b.weight)
    assert d["se"] == pytest.approx(np.hypot(a.se, b.se))
    assert d["significant"] and d["ci_high"] < 0 and d["p_value"] < 1e-6
    assert d["p_value"] == pytest.approx(2 * stats.norm.sf(abs(d["diff"]) / d["se"]))
    same = difference(a, a)
    assert same["diff"] == 0 and not same["significant"]


def test_within_user_fit_matches_statsmodels_with_user_intercepts_and_clusters():
    rng = np.random.default_rng(11)
    n_users, grid = 150, GRID
    level = rng.gamma(2.0, 3.0, n_users)                         # each user's own level, shared by every weight
    u = np.repeat(np.arange(n_users), len(grid))
    w = np.tile(grid, n_users)
    y = level[u] + 1.5 * w - 1.2 * w * w + rng.normal(0, 1, len(u)) * (1 + level[u] / 5)
    beta, cov = within_fit(y, w, u)
    # the coefficients: OLS with one intercept per user
    dummies = sm.OLS(y, np.column_stack([np.eye(n_users)[u], w, w * w])).fit()
    np.testing.assert_allclose(beta, dummies.params[-2:], rtol=1e-9)
    # the covariance: clustered by user on the demeaned data (the nested intercepts not counted in k)
    def demean(v):
        return v - (np.bincount(u, weights=v) / np.bincount(u))[u]
    ref = sm.OLS(demean(y), np.column_stack([demean(w), demean(w * w)])).fit(cov_type="cluster", cov_kwds={"groups": u})
    np.testing.assert_allclose(beta, ref.params, rtol=1e-9)
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-8)
    p = peak(y, w, np.zeros(len(u), int), unit=u)
    assert p.users == n_users and p.weight == pytest.approx(-beta[0] / (2 * beta[1]))


def test_pairing_finds_a_peak_that_users_own_levels_hide():
    """The same users under every weight: their own levels, far larger than the effect, drop out."""
    rng = np.random.default_rng(12)
    n_users = 1500
    level = rng.gamma(1.0, 60.0, n_users)
    u = np.repeat(np.arange(n_users), len(GRID))
    w = np.tile(GRID, n_users)
    y = level[u] - 2.0 * (w - 0.6) ** 2 + rng.normal(0, 1.0, len(u))
    paired = peak(y, w, np.zeros(len(u), int), unit=u)
    assert paired.peak and paired.within_grid and paired.ci_low < 0.6 < paired.ci_high
    # the same values read as independent users (one intercept for all) cannot place it
    unpaired = peak(y, w, np.zeros(len(u), int))
    assert not unpaired.within_grid and unpaired.se > 5 * paired.se


@pytest.mark.parametrize("grid", [np.array([0.0, 0.5, 1.0]), GRID])
def test_within_user_curvature_test_rejects_at_the_nominal_rate(grid):
    """A true curvature tested at its own value: rejected about 5% of the time (the nested user
    intercepts counted in the small-sample factor would make it 1-4%)."""
    rng = np.random.default_rng(13)
    n_users, b1, b2 = 300, 1.0, -0.8
    u = np.repeat(np.arange(n_users), len(grid))
    w = np.tile(grid, n_users)
    rejected = 0
    reps = 1500
    for _ in range(reps):
        level = rng.gamma(2.0, 3.0, n_users)[u]
        y = level + b1 * w + b2 * w * w + rng.normal(0, 1, len(u)) * (1 + level / 6) + rng.normal(0, 0.7, n_users)[u] * w
        beta, cov = within_fit(y, w, u)
        rejected += abs(beta[1] - b2) / np.sqrt(cov[1, 1]) > stats.norm.ppf(0.975)
    assert 0.034 < rejected / reps < 0.068, rejected / reps


def test_slope_at_another_peak_matches_statsmodels_and_carries_that_peaks_variance():
    """A segment's slope at another segment's peak: with the peak known exactly it is
    statsmodels' clustered test of b1 + 2 w b2; the peak's own variance widens it."""
    from dataclasses import replace

    from recsys.tune.optimum import slope_at

    rng = np.random.default_rng(14)
    n_users = 400
    u = np.repeat(np.arange(n_users), len(GRID))
    w = np.tile(GRID, n_users)
    y = rng.gamma(2.0, 3.0, n_users)[u] + 0.4 * w + rng.normal(0, 1, len(u))   # rising, no curvature
    flat = peak(y, w, np.zeros(len(u), int), unit=u)
    assert not flat.peak
    other = replace(flat, weight=0.7, se=0.0, peak=True, within_grid=True)
    s = slope_at(flat, other)

    def demean(v):
        return v - (np.bincount(u, weights=v) / np.bincount(u))[u]
    ref = sm.OLS(demean(y), np.column_stack([demean(w), demean(w * w)])).fit(cov_type="cluster", cov_kwds={"groups": u})
    t = ref.t_test(np.array([[1.0, 2 * 0.7]]))
    assert s["slope"] == pytest.approx(float(np.squeeze(t.effect)), rel=1e-9)
    assert s["se"] == pytest.approx(float(np.squeeze(t.sd)), rel=1e-8)
    assert s["p_value"] == pytest.approx(2 * stats.norm.sf(abs(s["slope"]) / s["se"]), rel=1e-9)
    assert s["significant"] and s["ci_low"] > 0 and s["at"] == 0.7
    wider = slope_at(flat, replace(other, se=0.2))
    assert wider["se"] == pytest.approx(np.hypot(s["se"], 2 * flat.b2 * 0.2), rel=1e-9)
