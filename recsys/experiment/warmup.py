"""Warm-up: the history models train on, generated before the experiment under a logging policy.

The logging policy is a cheap personalised incumbent, as a real service's logs come from its
current homepage: :class:`~recsys.policies.base.GenreRowsPolicy` (rows of the user's top observed genres,
each its most played titles, then "Popular now" and "New this week"), with exploration (a share
of random slots), refitted weekly on the logs so far; plus the plays users find off the homepage
(search). The logs therefore carry the exposure bias of real logs: what the incumbent showed,
popular titles of the genres each user already watches, was played more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from recsys.policies.reference import GenreRowsPolicy
from recsys.core.rng import KeyedRandom
from recsys.core.logs import Logs, watch_share
from recsys.simulate.runner import Simulation
from recsys.simulate.store import RunStore
from recsys.world.build import World, build_world
from recsys.world.config import WorldConfig
from recsys.world.segments import SEGMENTS, active_days, segment_codes

PRE_COLUMNS = ("pre_watch_minutes", "pre_sessions", "pre_active_days", "pre_plays", "pre_clicks",
               "pre_impressions", "pre_completions")


@dataclass
class WarmupResult:
    logs: Logs               # days -warmup_days .. -1
    segment: np.ndarray      # (N,) int8 index into SEGMENTS, computed from the logs at day 0
    pre: pd.DataFrame        # pre_* covariates per user id


def warm_up(sim: Simulation, days: int = 28, *, explore: float = 0.25, refit_every: int = 7,
            keep_impressions: bool = False, store: RunStore | None = None, explore_draw: str = "unseen",
            on_day: Callable[[int, Logs, list], None] | None = None) -> WarmupResult:
    """Run the logging policy for ``days`` days before day 0 on every user of ``sim``.

    With ``store``, the warm-up's logs go to disk as they are made and a rerun resumes it.
    ``explore_draw``: how the logger draws an explored slot's title (see
    :class:`~recsys.policies.reference.GenreRowsPolicy`; ``"uniform"`` logs exact propensities).
    ``on_day(day, logs_of_day, learned)`` is called after each day, when ``sim.shards`` hold the
    users' state at the end of that day (see :meth:`~recsys.simulate.runner.Simulation.run`).
    """
    world = sim.world
    policy = GenreRowsPolicy(halflife=7.0, explore=explore, explore_draw=explore_draw)
    rand = [KeyedRandom.from_seed(sim.seed, "policy", "warmup-logging")]
    sim.set_arms(np.zeros(world.n_users, np.int8))
    parts: list[Logs] = []
    policy.fit(Logs(), world.catalog, day=-days, n_users=world.n_users)
    sim.progress.begin("warm-up day", days)
    for first in range(-days, 0, refit_every):
        span = range(first, min(first + refit_every, 0))
        parts.append(sim.run([policy], span, rand, keep_impressions=keep_impressions, desc="warm-up", store=store,
                             on_day=on_day))
        policy.fit(Logs.concat(parts), world.catalog, day=span[-1] + 1, n_users=world.n_users)
    logs = Logs.concat(parts)
    return WarmupResult(logs=logs, segment=_segments(logs, world), pre=pre_covariates(logs, world.n_users, days))


def _segments(logs: Logs, world: World) -> np.ndarray:
    act = active_days(logs.sessions, world.n_users, -28, -1)
    return segment_codes(world.users.signup_day, act, as_of=0)


def pre_covariates(logs: Logs, n_users: int, days: int) -> pd.DataFrame:
    """Per-user totals of the warm-up: the covariates CUPED uses."""
    p, s = logs.plays, logs.sessions
    uid_p = p["user_id"].to_numpy(np.int64)
    uid_s = s["user_id"].to_numpy(np.int64)

    def count(idx, w=None):
        return np.bincount(idx, weights=w, minlength=n_users)[:n_users]

    return pd.DataFrame({
        "user_id": np.arange(n_users),
        "pre_watch_minutes": count(uid_p, p["minutes"].to_numpy(np.float64)),
        "pre_sessions": count(uid_s).astype(float),
        "pre_active_days": active_days(s, n_users, -days, -1).astype(float),
        "pre_plays": count(uid_p).astype(float),
        "pre_clicks": count(uid_s, s["clicks"].to_numpy(np.float64)),
        "pre_impressions": count(uid_s, s["impressions"].to_numpy(np.float64)),
        "pre_completions": count(uid_p, p["completed"].to_numpy(np.float64)),
    })


def synthetic_interactions(world_config: WorldConfig | None = None, seed: int = 0,
                           days: int = 28) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Warm-up plays of a fresh world as (interactions, items) frames for offline evaluation.

    interactions: user, item, weight (watch share), day, segment; items: the public catalog.
    """
    world = build_world(world_config, seed)
    sim = Simulation(world, seed)
    res = warm_up(sim, days)
    p = res.logs.plays
    runtime = world.catalog.runtime[p["title"].to_numpy()]
    share = watch_share(p["minutes"].to_numpy(), runtime * np.maximum(p["episodes"].to_numpy(), 1))
    inter = pd.DataFrame({"user": p["user_id"].to_numpy(), "item": p["title"].to_numpy(), "weight": share,
                          "day": p["day"].to_numpy(),
                          "segment": np.asarray(SEGMENTS, dtype=object)[res.segment[p["user_id"].to_numpy()]]})
    return inter, world.catalog.items_frame()
