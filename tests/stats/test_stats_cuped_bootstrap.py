"""CUPED reduces variance by about rho^2 without moving the estimate; the bootstrap agrees
with closed forms and is deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.stats.bootstrap import bootstrap_two_arms, replicate_sums, user_keys
from recsys.stats.cuped import cuped_test, pooled_theta
from recsys.stats.inference import delta_test, welch_test
from recsys.stats.metrics import METRICS
from recsys.stats.summary import CupedStats, summarize


def _moments(df, cols):
    return summarize(df, cols, ["arm"])


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_cuped_variance_reduction_is_about_rho_squared(rho):
    rng = np.random.default_rng(int(rho * 100))
    n = 40000
    x = rng.normal(size=n)
    y = 5 + rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=n)
    df = pd.DataFrame({"arm": np.where(rng.random(n) < 0.5, "c", "t"), "y": y, "pre_y": x})
    g = _moments(df, ["y", "pre_y"])
    c, t = (CupedStats.from_moments(g[(a,)], ["y"], ["pre_y"]) for a in ("c", "t"))
    res = cuped_test("mean", c, t)
    assert res.method == "welch+cuped"
    assert res.variance_reduction == pytest.approx(rho ** 2, abs=0.02)
    plain = welch_test(c.post, t.post)
    assert res.se == pytest.approx(plain.se * np.sqrt(1 - rho ** 2), rel=0.03)
    # theta is the pooled regression slope of y on x
    assert pooled_theta(c, t) == pytest.approx(rho, abs=0.02)


def test_cuped_for_a_ratio_matches_the_linearised_hand_computation():
    rng = np.random.default_rng(7)
    n = 6000
    taste = rng.beta(3, 17, n)
    pre_imp = rng.poisson(40, n)
    imp = rng.poisson(20, n)
    df = pd.DataFrame({"arm": np.where(rng.random(n) < 0.5, "c", "t"), "clicks": rng.binomial(imp, taste),
                       "impressions": imp, "pre_clicks": rng.binomial(pre_imp, taste), "pre_impressions": pre_imp})
    cols = ["clicks", "impressions", "pre_clicks", "pre_impressions"]
    g = _moments(df, cols)
    c, t = (CupedStats.from_moments(g[(a,)], cols[:2], cols[2:]) for a in ("c", "t"))
    res = cuped_test("ratio", c, t)
    assert res.method == "delta+cuped"
    assert res.variance_reduction > 0.3  # a user's own taste drives both periods

    def lin(part, num, den):
        r = part[num].sum() / part[den].sum()
        return (part[num] - r * part[den]) / part[den].mean(), r

    parts = {a: df[df.arm == a] for a in ("c", "t")}
    lin_y = {a: lin(p, "clicks", "impressions") for a, p in parts.items()}
    lin_x = {a: lin(p, "pre_clicks", "pre_impressions") for a, p in parts.items()}
    cov = sum(np.cov(lin_y[a][0], lin_x[a][0])[0, 1] / len(parts[a]) for a in parts)
    var_x = sum(np.var(lin_x[a][0], ddof=1) / len(parts[a]) for a in parts)
    theta = cov / var_x
    diff = (lin_y["t"][1] - lin_y["c"][1]) - theta * (lin_x["t"][1] - lin_x["c"][1])
    var = sum(np.var(lin_y[a][0] - theta * lin_x[a][0], ddof=1) / len(parts[a]) for a in parts)
    assert res.diff == pytest.approx(diff, abs=1e-10)
    assert res.se == pytest.approx(np.sqrt(var), rel=1e-8)
    plain = delta_test(c.post, t.post)
    assert res.se < plain.se


def test_cuped_without_covariate_spread_falls_back():
    df = pd.DataFrame({"arm": ["c"] * 5 + ["t"] * 5, "y": [1, 2, 3, 4, 5, 2, 3, 4, 5, 6.0], "pre_y": [1.0] * 10})
    g = _moments(df, ["y", "pre_y"])
    c, t = (CupedStats.from_moments(g[(a,)], ["y"], ["pre_y"]) for a in ("c", "t"))
    assert cuped_test("mean", c, t).method == "welch"


def _two_arm_frames(n, seed):
    rng = np.random.default_rng(seed)
    frames = []
    for arm, shift in (("c", 0.0), ("t", 0.5)):
        frames.append(pd.DataFrame({"user_id": np.arange(n) + (0 if arm == "c" else n),
                                    "watch_minutes": rng.gamma(2.0, 10.0, n) + shift}))
    return frames


@pytest.mark.parametrize("n", [1500, 9000])  # users resampled directly; users hashed into buckets
def test_bootstrap_se_of_a_mean_matches_the_closed_form(n):
    c, t = _two_arm_frames(n, seed=n)
    boot = bootstrap_two_arms("watch_minutes", c, t, n_boot=2000, seed=1)
    se = np.sqrt(c.watch_minutes.var() / n + t.watch_minutes.var() / n)
    assert boot.method == "bootstrap"
    assert boot.diff == pytest.approx(t.watch_minutes.mean() - c.watch_minutes.mean())
    assert boot.se == pytest.approx(se, rel=0.1)


def test_bootstrap_is_seeded_and_ignores_row_order():
    c, t = _two_arm_frames(800, seed=2)
    a = bootstrap_two_arms("watch_minutes", c, t, n_boot=300, seed=5)
    b = bootstrap_two_arms("watch_minutes", c.sample(frac=1, random_state=1), t.iloc[::-1], n_boot=300, seed=5)
    d = bootstrap_two_arms("watch_minutes", c, t, n_boot=300, seed=6)
    assert a.se == pytest.approx(b.se, rel=1e-12)
    assert a.se != d.se


def test_replicate_sums_are_poisson_weighted_totals():
    values = np.arange(12, dtype=float).reshape(6, 2)
    keys = user_keys(np.arange(6))
    sums, n = replicate_sums(values, keys, n_boot=4000, seed=0)
    assert sums.shape == (4000, 2) and n.shape == (4000,)
    assert n.mean() == pytest.approx(6, rel=0.03)          # Poisson(1) weights: E[total weight] = n
    assert n.var() == pytest.approx(6, rel=0.1)
    assert sums.mean(axis=0) == pytest.approx(values.sum(axis=0), rel=0.03)


def test_composite_point_estimate_is_the_formula(small_table):
    df = small_table[small_table.arm == "popularity"]
    c = df
    t = small_table[small_table.arm == "hybrid"]
    res = bootstrap_two_arms(METRICS["engagement_efficiency"], c, t, n_boot=200, seed=0)
    pr = c.plays.sum() / c.sessions.sum()
    cr = c.completions.sum() / c.plays.sum()
    ttfp = c.time_to_first_play_s.mean()  # over users with a play
    assert res.control == pytest.approx(pr * cr / ttfp)
