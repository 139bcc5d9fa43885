"""Running many days over all shards, and collecting the logs.

Users are split into fixed shards (:data:`SHARD_SIZE` users, independent of the number of
workers); each day every shard is advanced by :func:`~recsys.simulate.engine.simulate_day`, then
each policy may learn from its arm's logs of the day. Shards are independent within a day, so
they run as tasks on any :class:`concurrent.futures.Executor` (see :mod:`recsys.core.parallel`); the
result is identical whatever the executor, because all randomness is keyed by user and day.

What travels: the behaviour model and each fitted policy are sent to the workers once
(:class:`recsys.core.parallel.Shared`), and again only after a refit; a task carries its shard's
state, the day and the policies' small artwork state. With a :class:`RunStore`, workers write
their shard's logs (impressions included) and state to partitioned files, only what the
policies learn from comes back in memory, and an interrupted run can be resumed.
"""

from __future__ import annotations

import copy
import dataclasses
from concurrent.futures import Executor
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from recsys.policies.artwork.base import ArtworkPolicy
from recsys.core.parallel import Shared, resolve
from recsys.policies.base import Policy
from recsys.core.progress import SILENT, Progress
from recsys.core.rng import KeyedRandom
from recsys.simulate.behaviour import BehaviourModel
from recsys.simulate.engine import DayLogs, simulate_day
from recsys.core.logs import IMPRESSION_SCHEMA, PLAY_SCHEMA, SESSION_SCHEMA, Logs, empty_frame, frame
from recsys.simulate.state import ShardState
from recsys.simulate.store import RunStore
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


def learns_from_impressions(policies: list[Policy]) -> bool:
    """Whether any policy's daily ``update`` reads impressions (bandits do; fixed artwork does not)."""
    return any(_learns(p) for p in policies)


def arm_rows(logs: Logs, arm: np.ndarray, a: int, start: int = 0) -> Logs:
    """The rows of ``logs`` whose user is in arm ``a`` (``arm`` indexed by ``user_id - start``)."""
    def cut(df):
        if df is None:
            return None
        return df[arm[df["user_id"].to_numpy() - start] == a].reset_index(drop=True)
    return Logs(cut(logs.plays), cut(logs.sessions), cut(logs.impressions))


def summarize_shard(policies: list[Policy], logs: Logs, arm: np.ndarray, start: int) -> list:
    """Each policy's :meth:`~recsys.policies.base.Policy.summarize` of its arm's rows of one shard's logs."""
    return [p.summarize(arm_rows(logs, arm, a, start)) if _learns(p) else None for a, p in enumerate(policies)]


def _learns(policy: Policy) -> bool:
    """Whether the policy (or its artwork policy) overrides any of the daily learning methods."""
    methods = ("update", "summarize", "learn")
    return (any(getattr(type(policy), m) is not getattr(Policy, m) for m in methods)
            or any(getattr(type(policy.artwork), m) is not getattr(ArtworkPolicy, m) for m in methods))


def _light(policy: Policy) -> ArtworkPolicy:
    """The policy's artwork state as sent each day: without the catalog when it is the policy's
    own (the worker already has that, with the fitted policy)."""
    art = policy.artwork
    if getattr(art, "catalog_", None) is not None and art.catalog_ is getattr(policy, "catalog_", None):
        art = copy.copy(art)
        art.catalog_ = None
    return art


def _advance(args) -> tuple[ShardState, Logs, list | None]:
    (index, state, model_h, users_h, policy_hs, artworks, day, rand, policy_rands, keep, learn, store, source) = args
    model = resolve(model_h)
    travelling = state.users is None
    if travelling:  # the users' static traits were sent once, not with every task
        state.users = resolve(users_h).slice(state.start, state.stop)
    if source is not None:  # the shard's state stays with the workers: yesterday's checkpoint
        src_store, src_day = source
        state.load(src_store.read_state(src_day, index), ShardState.RESTORED)
    policies = []
    for h, art in zip(policy_hs, resolve(artworks)):
        p = copy.copy(resolve(h))
        p.artwork = copy.copy(art)
        if getattr(art, "catalog_", True) is None:   # sent without the catalog its policy holds
            p.artwork.catalog_ = p.catalog_
        policies.append(p)
    want_imps = keep or learn or (store is not None and store.impressions)
    day_logs = simulate_day(state, model, policies, day, rand, policy_rands, keep_impressions=want_imps)
    if store is not None:
        imps = day_logs.impressions if (keep or store.impressions) else None
        store.write_logs(day, index, {"impressions": imps, "plays": day_logs.plays, "sessions": day_logs.sessions})
        store.write_state(day, index, state.arrays())
    logs = logs_frame([day_logs], want_imps)
    learned = summarize_shard(policies, logs, state.arm, state.start) if learn else None
    if not keep:   # what the policies learn from travels as their summaries, not as impressions
        logs.impressions = None
    if travelling:
        state.users = None
    resident = store is not None and travelling
    return (None if resident else state), logs, learned


class Simulation:
    """The world's users in shards, advanced day by day under a list of policies (one per arm)."""

    def __init__(self, world: World, seed: int, *, shard_size: int | None = None,
                 executor: Executor | None = None, progress: Progress | None = None):
        self.world = world
        self.seed = seed
        self.model = BehaviourModel(world.config, world.catalog, world.truth)
        self.rand = KeyedRandom.from_seed(seed, "behaviour")
        bounds = list(range(0, world.n_users, shard_size or SHARD_SIZE)) + [world.n_users]
        self.shards = [ShardState.new(world, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
        self.executor = executor
        self.progress = progress if progress is not None else SILENT   # ticks once per simulated day
        self._shared = Shared(executor)
        self._model_h = None
        self._users_h = None
        self._sent: dict[int, tuple[int, object]] = {}   # id(policy) -> (fit_id_, handle)

    def close(self) -> None:
        """Free what was sent to the workers (scratch files, scattered data)."""
        self._shared.close()
        self._sent.clear()
        self._model_h = None

    def set_arms(self, arm: np.ndarray) -> None:
        """Arm index per user id (``-1``: the user is not simulated)."""
        for s in self.shards:
            s.arm[:] = arm[s.start:s.stop]

    def arms(self) -> np.ndarray:
        return np.concatenate([s.arm for s in self.shards])

    def _handle(self, policy: Policy):
        token = getattr(policy, "fit_id_", 0)
        sent = self._sent.get(id(policy))
        if sent is None or sent[0] != token:
            heavy = copy.copy(policy)
            heavy.artwork = None
            self._sent[id(policy)] = (token, self._shared.put(heavy))
        return self._sent[id(policy)][1]

    def run(self, policies: list[Policy], days: Iterable[int], policy_rands: list[KeyedRandom], *,
            keep_impressions: bool = True, on_day: Callable[[int, Logs, list], None] | None = None,
            desc: str = "simulating", store: RunStore | None = None) -> Logs:
        """Simulate ``days``; after each day, ``on_day(day, logs_of_day, learned)``, where
        ``learned[a]`` lists, shard by shard, policy ``a``'s :meth:`~recsys.policies.base.Policy.summarize`
        of its arm's logs of the day (computed by the workers: pass it to ``Policy.learn``).

        With ``store``, shard-days already in it (from an interrupted run) are not simulated
        again: completed days are replayed from their logs, then the missing shards are run.
        ``keep_impressions`` keeps the impression log in the returned :class:`Logs` and in
        ``logs_of_day``.
        """
        days = list(days)
        if self._model_h is None:
            self._model_h = self._shared.put(self.model)
            self._users_h = self._shared.put(self.world.user_truth) if self.executor is not None else None
        learn = on_day is not None and learns_from_impressions(policies)
        with_imps = keep_impressions or learn
        kinds = ("impressions", "plays", "sessions") if with_imps else ("plays", "sessions")
        resume_day = self._resume_point(store, days)
        n = len(self.shards)
        # with a store and workers, shard states stay on the workers' side: each task reads the
        # previous day's checkpoint and returns none; the driver reloads them after the last day
        resident = store is not None and self.executor is not None
        disk_day = None
        all_parts: list[Logs] = []
        for day in days:
            by_shard: dict[int, tuple[Logs, list | None]] = {}
            if resume_day is not None and day < resume_day:        # replay a completed day
                done, todo = set(range(n)), []
            else:
                done = store.done_shards(day) if store is not None else set()
                todo = [i for i in range(n) if i not in done]
            if todo:
                handles = [self._handle(p) for p in policies]
                artworks = self._shared.put([_light(p) for p in policies])   # once a day, not per task
                source = (store, disk_day) if disk_day is not None else None
                tasks = [(i, self._travelling(self.shards[i], source is not None), self._model_h, self._users_h,
                          handles, artworks, day, self.rand, policy_rands, keep_impressions, learn, store, source)
                         for i in todo]
                if self.executor is None:
                    results = [_advance(t) for t in tasks]
                else:
                    results = list(self.executor.map(_advance, tasks))
                self._shared.drop(artworks)
                for i, (state, day_logs, learned) in zip(todo, results):
                    if state is None:    # resident: the driver's copy is stale, drop its arrays
                        self.shards[i] = dataclasses.replace(self.shards[i].skeleton(), users=self.shards[i].users)
                    else:
                        if state.users is None:
                            state.users = self.shards[i].users
                        self.shards[i] = state
                    by_shard[i] = (day_logs, learned)
            if done:
                last = resume_day is not None and day == resume_day - 1
                if not resident and (todo or last):
                    self._load_states(store, day, sorted(done))
                for i in sorted(done):
                    logs = self._read(store, day, [i], kinds, with_imps)
                    sh = self.shards[i]
                    learned = summarize_shard(policies, logs, sh.arm, sh.start) if learn else None
                    if not keep_impressions:
                        logs.impressions = None
                    by_shard[i] = (logs, learned)
            if store is not None and todo:
                store.forget_states_before(day - 1)
            if resident:
                disk_day = day
            logs = Logs.concat([by_shard[i][0] for i in range(n)])
            if on_day is not None:
                learned = [[by_shard[i][1][a] for i in range(n)] if learn else [] for a in range(len(policies))]
                on_day(day, logs, learned)
            all_parts.append(logs)
            self.progress.tick()
        if resident and disk_day is not None:
            self._load_states(store, disk_day, range(n))
        return Logs.concat(all_parts)

    def _travelling(self, state: ShardState, skeleton: bool = False) -> ShardState:
        """What a task carries: the shard without its static traits when it leaves this process,
        and without its dynamic state too when the worker reads that from a checkpoint."""
        if self.executor is None:
            return state
        return state.skeleton() if skeleton else dataclasses.replace(state, users=None)

    def _resume_point(self, store: RunStore | None, days: list[int]) -> int | None:
        """The first day to simulate when ``store`` holds earlier complete days (else None)."""
        if store is None or not days:
            return None
        n = len(self.shards)
        complete = [d for d in store.state_days() if d in days and len(store.done_shards(d)) == n]
        return max(complete) + 1 if complete else None

    def _load_states(self, store: RunStore, day: int, shards) -> None:
        for i in shards:
            self.shards[i].load(store.read_state(day, i))

    @staticmethod
    def _read(store: RunStore, day: int, shards, kinds, with_impressions: bool) -> Logs:
        f = store.read_logs(day, list(shards), kinds)
        return Logs(plays=f["plays"], sessions=f["sessions"], impressions=f.get("impressions") if with_impressions else None)

