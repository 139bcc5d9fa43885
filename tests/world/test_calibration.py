"""The world card's calibration runs (slow: each a few 8,000-user experiments of 14 days after a
28-day warm-up). Their measured figures are quoted in docs/world.md."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recsys.experiment.config import ArmConfig
from recsys.experiment.runner import run_experiment
from recsys.simulate.tables import user_day_table
from recsys.stats.decay import decay_test

from world_config import small_config

pytestmark = pytest.mark.slow

FOUR = [ArmConfig("popularity", "popularity", 0.25), ArmConfig("random", "random", 0.25),
        ArmConfig("oracle", "oracle", 0.25), ArmConfig("hybrid", "hybrid", 0.25)]


def arm_figures(table: pd.DataFrame) -> pd.DataFrame:
    g = table.groupby("arm")
    s = g[["clicks", "impressions", "watch_minutes", "sessions", "next_day_returns", "return_chances",
           "gap_days", "returns"]].sum()
    return pd.DataFrame({"ctr": s["clicks"] / s["impressions"], "per_session": s["watch_minutes"] / s["sessions"],
                         "minutes": g["watch_minutes"].mean(), "return_rate": s["next_day_returns"] / s["return_chances"],
                         "gap": s["gap_days"] / s["returns"]})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_baseline_calibration_and_orderings(seed):
    """Popularity: CTR 14-18%, 30-45 watch minutes per session, next-day return near KuaiSim's
    0.57-0.61; CTR and minutes per user order oracle > hybrid > popularity > random, next-day
    return random < popularity < oracle."""
    res = run_experiment(small_config(FOUR, users=8000, days=14, warmup_days=28, seed=seed), keep_impressions=False)
    f = arm_figures(res.table)
    print(f"\nseed {seed}\n{f.round(4).to_string()}")
    pop = f.loc["popularity"]
    assert 0.14 <= pop["ctr"] <= 0.18 and 30 <= pop["per_session"] <= 45
    assert 0.55 <= pop["return_rate"] <= 0.63
    for col in ("ctr", "minutes"):
        assert f.loc["oracle", col] > f.loc["hybrid", col] > f.loc["popularity", col] > f.loc["random", col], col
    assert f.loc["random", "return_rate"] < f.loc["popularity", "return_rate"] < f.loc["oracle", "return_rate"]


def _decay(change_reaction: bool):
    arms = [ArmConfig("popularity", "popularity", 0.5), ArmConfig("hybrid", "hybrid", 0.5)]
    cfg = small_config(arms, users=8000, days=14, warmup_days=28, seed=3)
    b = dataclasses.replace(cfg.world.behaviour, change_reaction_until=None if change_reaction else 0)
    res = run_experiment(cfg.replace(world=dataclasses.replace(cfg.world, behaviour=b)), keep_impressions=False)
    inside = np.flatnonzero(res.arm >= 0)
    daily = user_day_table(res.logs, inside, np.asarray(res.config.arm_names, dtype=object)[res.arm[inside]])
    return decay_test(daily, "popularity", ["ctr"], last_day=res.config.days - 1)[0]


def test_the_ctr_effect_moves_and_its_late_estimate_is_the_steady_state_truth():
    """The hybrid's CTR lift over popularity on days 1-3 since first exposure differs from days
    8-14 by more than its standard error (recsys.stats.decay's early-vs-late test), and the late
    lift's interval holds the steady-state truth: the late lift of the same warm-up, users, fitted
    policies and random streams with the change reaction off from day 0. Seeds 1-11
    (docs/world.md): the truth inside the late interval on all 11, the late lift 1.1 points
    (SE 0.9) above it on average."""
    on, truth = _decay(True), _decay(False)
    print(f"\nearly {on.early['rel_lift']:.4f} late {on.late['rel_lift']:.4f} "
          f"[{on.late['rel_ci_low']:.4f}, {on.late['rel_ci_high']:.4f}] log ratio {on.log_ratio:.4f} "
          f"se {on.se:.4f}; truth late {truth.late['rel_lift']:.4f}")
    assert abs(on.log_ratio) > on.se
    assert on.late["rel_ci_low"] <= truth.late["rel_lift"] <= on.late["rel_ci_high"]


def homogenisation_by_group(plays: pd.DataFrame, ids: np.ndarray, n_titles: int, groups: int = 8) -> np.ndarray:
    """Mean pairwise Jaccard of watched-title sets within each of ``groups`` disjoint groups of
    users (by user id): independent, unbiased estimates of the arm's homogenisation."""
    from recsys.metrics.exposure import homogenization

    return np.array([homogenization(plays, ids[ids % groups == k], n_titles, sample=None) for k in range(groups)])


def test_diversity_by_audience_lowers_homogenisation():
    """The hybrid with an audience-similarity diversity weight of 0.9 makes users' viewing less
    alike than without (days 7-20 of a 21-day run, both refitted weekly): the difference of the
    mean pairwise Jaccard, with a t interval over 8 disjoint groups of users per arm, is below 0."""
    arms = [ArmConfig("loop", "hybrid", 0.5), ArmConfig("diverse", "hybrid", 0.5, {"diversity": 0.9, "similarity": "audience"})]
    res = run_experiment(small_config(arms, users=6000, days=21, warmup_days=28, seed=3), keep_impressions=False)
    plays = res.logs.plays[res.logs.plays["day"] >= 7]
    t = res.table
    h = {a: homogenisation_by_group(plays, t.loc[t["arm"] == a, "user_id"].to_numpy(), res.world.config.titles)
         for a in ("loop", "diverse")}
    diff = h["diverse"].mean() - h["loop"].mean()
    se = np.sqrt(h["diverse"].var(ddof=1) / 8 + h["loop"].var(ddof=1) / 8)
    print(f"\nhomogenisation loop {h['loop'].mean():.5f} diverse {h['diverse'].mean():.5f} diff {diff:.5f} se {se:.5f}")
    assert diff + 2.145 * se < 0       # t(14) 97.5%
