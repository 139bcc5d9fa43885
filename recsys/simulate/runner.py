"""Running many days over all shards, and collecting the logs.

Users are split into fixed shards (:data:`SHARD_SIZE` users, independent of the number of
workers); each day every shard is advanced by :func:`~recsys.simulate.engine.simulate_day`, then
each policy may learn from its arm's logs of the day. Shards are independent within a day, so
they can run in worker processes; the result is identical whatever the number of workers.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Callable, Iterable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from recsys.policy import Policy
from recsys.rng import KeyedRandom
from recsys.simulate.behaviour import BehaviourModel
from recsys.simulate.engine import DayLogs, simulate_day
from recsys.simulate.logs import IMPRESSION_SCHEMA, PLAY_SCHEMA, SESSION_SCHEMA, Logs, empty_frame, frame
from recsys.simulate.state import ShardState
from recsys.world.build import World

SHARD_SIZE = 10_000


def logs_frame(parts: list[DayLogs], keep_impressions: bool) -> Logs:
    """Concatenate per-shard, per-day column arrays into typed DataFrames."""
    def collect(name: str, schema: dict) -> pd.DataFrame:
        cols = [getattr(p, name) for p in parts if getattr(p, name)]
        if not cols:
            return empty_frame(schema)
        return frame(schema, {c: np.concatenate([d[c] for d in cols]) for c in schema})
    return Logs(plays=collect("plays", PLAY_SCHEMA), sessions=collect("sessions", SESSION_SCHEMA),
                impressions=collect("impressions", IMPRESSION_SCHEMA) if keep_impressions else None)


def _advance(args) -> tuple[ShardState, DayLogs]:
    state, model, policies, day, rand, policy_rands, keep = args
    logs = simulate_day(state, model, policies, day, rand, policy_rands, keep_impressions=keep)
    return state, logs


class Simulation:
    """The world's users in shards, advanced day by day under a list of policies (one per arm)."""

    def __init__(self, world: World, seed: int, *, shard_size: int = SHARD_SIZE,
                 executor: Executor | None = None, progress: bool = False):
        self.world = world
        self.seed = seed
        self.model = BehaviourModel(world.config, world.catalog, world.truth)
        self.rand = KeyedRandom.from_seed(seed, "behaviour")
        bounds = list(range(0, world.n_users, shard_size)) + [world.n_users]
        self.shards = [ShardState.new(world, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
        self.executor = executor
        self.progress = progress

    def set_arms(self, arm: np.ndarray) -> None:
        """Arm index per user id (``-1``: the user is not simulated)."""
        for s in self.shards:
            s.arm[:] = arm[s.start:s.stop]

    def arms(self) -> np.ndarray:
        return np.concatenate([s.arm for s in self.shards])

    def run(self, policies: list[Policy], days: Iterable[int], policy_rands: list[KeyedRandom], *,
            keep_impressions: bool = True, on_day: Callable[[int, Logs], None] | None = None,
            desc: str = "simulating") -> Logs:
        """Simulate ``days``; after each day, ``on_day(day, logs_of_day)`` (e.g. policy updates)."""
        days = list(days)
        all_parts: list[DayLogs] = []
        bar = tqdm(days, desc=desc, unit="day", disable=not self.progress, leave=False)
        for day in bar:
            tasks = [(s, self.model, policies, day, self.rand, policy_rands, keep_impressions) for s in self.shards]
            if self.executor is None:
                results = [_advance(t) for t in tasks]
            else:
                results = list(self.executor.map(_advance, tasks))
            self.shards = [r[0] for r in results]
            day_parts = [r[1] for r in results]
            all_parts.extend(day_parts)
            if on_day is not None:
                on_day(day, logs_frame(day_parts, keep_impressions))
        return logs_frame(all_parts, keep_impressions)
