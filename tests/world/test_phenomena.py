"""The world's phenomena, measured by running it (each test fails if the phenomenon is absent)."""

import numpy as np
import pandas as pd

from recsys.policies.artwork import RandomArtwork
from recsys.policies.reference import PopularityPolicy
from recsys.core.rng import KeyedRandom
from recsys.core.logs import Logs
from recsys.simulate.runner import Simulation
from recsys.experiment.warmup import warm_up
from recsys.world.build import build_world
from recsys.world.config import WorldConfig
from recsys.world.segments import segments_from_logs


def per_arm(table: pd.DataFrame) -> pd.DataFrame:
    t = table[table["segment"] != "new"]
    g = t.groupby("arm")
    return pd.DataFrame({"ctr": g["clicks"].sum() / g["impressions"].sum(), "minutes": g["watch_minutes"].mean()})


def test_oracle_beats_popularity_beats_random(three_policy_run):
    m = per_arm(three_policy_run.table)
    assert m.loc["oracle", "ctr"] > m.loc["popularity", "ctr"] > m.loc["random", "ctr"]
    assert m.loc["oracle", "minutes"] > m.loc["popularity", "minutes"] > m.loc["random", "minutes"]


def test_calibration_of_popularity_ctr_and_minutes(three_policy_run):
    """The product brief's baseline: CTR 14-18% and 30-45 watch minutes per session (all
    sessions, those without a play included: the ``watch_minutes_per_session`` metric)."""
    res = three_policy_run
    pop = res.table[res.table["arm"] == "popularity"]
    ctr = pop["clicks"].sum() / pop["impressions"].sum()
    assert 0.14 <= ctr <= 0.18, ctr
    per_session = pop["watch_minutes"].sum() / pop["sessions"].sum()
    assert 30 <= per_session <= 45, per_session


def return_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Per arm: next-day return rate per visit day and the mean gap between visits (days)."""
    s = table.groupby("arm")[["next_day_returns", "return_chances", "gap_days", "returns"]].sum()
    return pd.DataFrame({"rate": s["next_day_returns"] / s["return_chances"], "gap": s["gap_days"] / s["returns"]})


def test_returns_answer_to_experience(three_policy_run):
    """A better experience brings users back sooner: next-day return and the gap between visits
    order random < popularity < oracle (gap: the other way round)."""
    r = return_rates(three_policy_run.table)
    assert r.loc["random", "rate"] < r.loc["popularity", "rate"] < r.loc["oracle", "rate"], r
    assert r.loc["random", "gap"] > r.loc["popularity", "gap"] > r.loc["oracle", "gap"], r
    assert 0.5 <= r.loc["popularity", "rate"] <= 0.65, r


def test_segments_reproducible_from_logs(three_policy_run):
    res = three_policy_run
    labels = segments_from_logs(res.warmup.logs.sessions, res.world.users.signup_day, as_of=0)
    t = res.table
    assert (labels[t["user_id"].to_numpy()] == t["segment"].to_numpy()).all()
    assert set(t["segment"]) == {"new", "low_engagement", "regular", "power"}


def test_churn_falls_with_satisfaction():
    world = build_world(WorldConfig(users=8000), 5)
    sim = Simulation(world, 5)
    warm_up(sim, 14)
    sat0 = np.concatenate([s.satisfaction for s in sim.shards])
    before = np.concatenate([s.churned for s in sim.shards])
    pol = PopularityPolicy().fit(Logs(), world.catalog, day=0, n_users=world.n_users)
    sim.run([pol], range(14), [KeyedRandom.from_seed(5, "p")], keep_impressions=False)
    churned = np.concatenate([s.churned for s in sim.shards]) & ~before
    alive = ~before & (world.users.signup_day < -7)
    lo, hi = np.quantile(sat0[alive], [1 / 3, 2 / 3])
    low_rate = churned[alive & (sat0 <= lo)].mean()
    high_rate = churned[alive & (sat0 >= hi)].mean()
    assert low_rate > 1.3 * high_rate, (low_rate, high_rate)


def test_clickbait_variant_draws_clicks_and_loses_completions():
    world = build_world(WorldConfig(users=8000), 11)
    sim = Simulation(world, 11)
    warm = warm_up(sim, 14)
    pol = PopularityPolicy(explore=0.3, artwork=RandomArtwork()).fit(warm.logs, world.catalog, day=0,
                                                                      n_users=world.n_users)
    logs = sim.run([pol], range(10), [KeyedRandom.from_seed(11, "p")])
    imp, plays = logs.impressions, logs.plays
    bait = world.truth.art_honesty < 0.35
    titles_with_bait = np.unique(world.catalog.art_title[bait])
    imp = imp[np.isin(imp["title"], titles_with_bait)]
    plays = plays[np.isin(plays["title"], titles_with_bait) & (plays["artwork"] >= 0)]
    ib = bait[imp["artwork"].to_numpy()]
    pb = bait[plays["artwork"].to_numpy()]
    assert imp["clicked"][ib].mean() > 1.2 * imp["clicked"][~ib].mean()
    assert plays["completed"][pb].mean() < 0.85 * plays["completed"][~pb].mean()
    assert plays["abandoned_early"][pb].mean() > 1.5 * plays["abandoned_early"][~pb].mean()
