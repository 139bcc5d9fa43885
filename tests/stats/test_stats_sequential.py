"""Daily peeks: naive repeated t-tests inflate false positives; the always-valid test does not."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from recsys.stats.analysis import monitor
from recsys.stats.sequential import always_valid_p, confidence_radius, optimal_tau2, sequential_test
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


def test_monitor_over_daily_tables():
    full = synthetic_table(3000, ("control", "treatment"), seed=4)
    days = [full.iloc[: int(len(full) * k / 5)] for k in range(1, 6)]  # users arriving over 5 looks
    out = monitor(days, "control", "ctr")
    assert set(out) == {"treatment"}
    assert len(out["treatment"].looks) == 5
    assert out["treatment"].looks[-1].n_control + out["treatment"].looks[-1].n_treatment == 3000
