"""Daily peeks: naive repeated t-tests inflate false positives; the always-valid test does not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from recsys.stats.analysis import monitor
from recsys.stats.sequential import (always_valid_p, confidence_radius, look_intervals, optimal_tau2,
                                     sequential_test)
from recsys.stats.synthetic import synthetic_table

REPLICATES, DAYS, USERS_PER_DAY = 2000, 14, 100  # per arm


def _cumulative(effect: float, seed: int):
    """Cumulative diff and its variance at each daily look, for many experiments at once."""
    rng = np.random.default_rng(seed)
    shape = (REPLICATES, DAYS, USERS_PER_DAY)
    c = rng.exponential(1.0, shape)             # skewed per-user values
    t = rng.exponential(1.0, shape) + effect
    out = []
    for x in (c, t):
        n = np.cumsum(np.full(DAYS, USERS_PER_DAY))
        s = np.cumsum(x.sum(axis=2), axis=1)
        ss = np.cumsum((x * x).sum(axis=2), axis=1)
        mean = s / n
        var = (ss - n * mean ** 2) / (n - 1)
        out.append((mean, var / n))
    (mc, vc), (mt, vt) = out
    return mt - mc, vc + vt


def test_daily_peeking_inflates_naive_tests_but_not_the_always_valid_one():
    diff, var = _cumulative(0.0, seed=1)
    naive_p = 2 * sps.norm.sf(np.abs(diff) / np.sqrt(var))
    naive_fpr = (naive_p < 0.05).any(axis=1).mean()
    tau2 = optimal_tau2(2 / (DAYS * USERS_PER_DAY))   # tuned to the planned final variance
    p = always_valid_p(diff, var, tau2)
    seq_fpr = (p <= 0.05).any(axis=1).mean()
    tol = 3 * np.sqrt(0.05 * 0.95 / REPLICATES)
    assert naive_fpr > 0.12                # peeking 14 times: far above 5%
    assert seq_fpr <= 0.05 + tol           # always valid
    # p-values never increase across looks
    assert np.all(np.diff(p, axis=1) <= 1e-15)


def test_confidence_sequence_covers_the_truth_at_every_look_and_detects_effects():
    effect = 0.15
    diff, var = _cumulative(effect, seed=2)
    tau2 = optimal_tau2(2 / (DAYS * USERS_PER_DAY))
    r = confidence_radius(var, tau2)
    lo = np.maximum.accumulate(diff - r, axis=1)
    hi = np.minimum.accumulate(diff + r, axis=1)
    covered = ((lo <= effect) & (effect <= hi)).all(axis=1).mean()
    assert covered >= 0.95 - 3 * np.sqrt(0.05 * 0.95 / REPLICATES)
    power = (always_valid_p(diff, var, tau2) <= 0.05).any(axis=1).mean()
    assert power > 0.5


def test_sequential_result_object():
    res = sequential_test([0.0, 0.5, 0.6], [1.0, 0.04, 0.02], alpha=0.05)
    assert len(res.looks) == 3
    assert res.looks[0].p_value == 1.0
    assert res.looks[-1].ci_low <= 0.6 <= res.looks[-1].ci_high
    assert res.first_rejection in (None, 2, 3)
    assert res.to_dict()["looks"][1]["look"] == 2


def test_default_tau2_is_fixed_by_the_first_look():
    """No look-ahead: the mixing variance depends on the first look only."""
    a = sequential_test([0.1, 0.2, 0.3], [1.0, 0.5, 0.1])
    b = sequential_test([0.1, -5.0, 9.0], [1.0, 0.01, 0.0001])
    assert a.tau2 == b.tau2 == optimal_tau2(1.0)


def test_monitor_over_daily_tables_with_roles():
    from recsys.stats.roles import Guardrail, Roles

    full = synthetic_table(3000, ("control", "treatment"), seed=4, effects={"treatment": {"ctr": 1.3}})
    days = [full.assign(clicks=(full.clicks * k) // 5, impressions=(full.impressions * k) // 5,
                        churned=full.churned * (k == 5)) for k in range(1, 6)]   # a cohort accumulating
    roles = Roles(success=("ctr",), guardrails=(Guardrail("churn_rate", 0.5),), secondary=())
    out = monitor(days, "control", roles, days=range(10, 15))
    assert {(r["metric"], r["role"]) for r in out} == {("ctr", "success"), ("churn_rate", "guardrail")}
    assert [r["day"] for r in out if r["metric"] == "ctr"] == list(range(10, 15))
    ctr = [r for r in out if r["metric"] == "ctr"]
    assert ctr[-1]["status"] == "better" and ctr[-1]["n_control"] + ctr[-1]["n_treatment"] == 3000
    assert len({r["tau2"] for r in ctr}) == 1
    assert all(r["status"] in ("non-inferior", "inconclusive", "harmed") for r in out if r["role"] == "guardrail")
    assert all(r["ci_low"] <= r["estimate"] <= r["ci_high"] for r in out if np.isfinite(r["ci_low"]))


def _cohort(effect: float, seed: int, reps: int, users: int, days: int):
    """A fixed cohort observed daily: per-user gamma visit rates and beta click propensities that
    persist across days (so a day's increments correlate with the past, unlike arriving users).
    Returns per (replicate, day) the cumulative diff and variance of CTR (a ratio) and of
    sessions per user (a mean whose estimand grows daily), and the true sessions diff by day."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.9, 0.35, (reps, 2, users))
    prop = rng.beta(2.0, 9.0, (reps, 2, users))
    rate[:, 1] *= effect
    clicks, imps, sess = (np.zeros((reps, 2, users)) for _ in range(3))
    out = {k: np.empty((reps, days)) for k in ("ctr_d", "ctr_v", "s_d", "s_v")}
    for d in range(days):
        s = rng.poisson(rate)
        i = rng.poisson(s * 14.0)
        clicks += rng.binomial(i, prop)
        imps += i
        sess += s
        r = clicks.sum(2) / imps.sum(2)                                  # (reps, arm): ratio of sums
        lin = (clicks - r[..., None] * imps) / imps.mean(2, keepdims=True)  # delta-method linearisation
        out["ctr_d"][:, d] = r[:, 1] - r[:, 0]
        out["ctr_v"][:, d] = lin.var(2, ddof=1).sum(1) / users
        out["s_d"][:, d] = sess[:, 1].mean(1) - sess[:, 0].mean(1)
        out["s_v"][:, d] = sess[:, 1].var(1, ddof=1) / users + sess[:, 0].var(1, ddof=1) / users
    truth = (np.arange(days) + 1) * 0.9 * 0.35 * (effect - 1)
    return out, truth


@pytest.mark.slow
def test_fixed_cohort_monitor_keeps_alpha_and_covers_each_days_estimand():
    """The daily monitor's setting: one cohort, estimands growing daily, tau2 from the first look.
    Over 2000 A/A cohorts checked on 14 days, no metric is ever declared different more often than
    alpha (plus Monte Carlo error); with a 5% rise in visits, each day's interval covers that
    day's cumulative effect on every day at least 1 - alpha of the time."""
    reps, users, days, alpha = 2000, 1000, 14, 0.05
    tol = 3 * np.sqrt(alpha * (1 - alpha) / reps)
    aa, _ = _cohort(1.0, 11, reps, users, days)
    for m in ("ctr", "s"):
        p, lo, hi, _ = look_intervals(aa[f"{m}_d"], aa[f"{m}_v"], alpha)
        ever = (p <= alpha).any(axis=1).mean()
        naive = (np.abs(aa[f"{m}_d"]) / np.sqrt(aa[f"{m}_v"]) > sps.norm.isf(alpha / 2)).any(axis=1).mean()
        print(f"{m}: always-valid false alarms {ever:.3f}, daily naive peeks {naive:.3f}")
        assert ever <= alpha + tol
        assert naive > ever
    eff, truth = _cohort(1.05, 12, reps, users, days)
    _, lo, hi, _ = look_intervals(eff["s_d"], eff["s_v"], alpha)
    covered = ((lo <= truth) & (truth <= hi)).all(axis=1).mean()
    print(f"sessions with +5% visits: every day's interval covers its day's effect {covered:.3f}")
    assert covered >= 1 - alpha - tol
