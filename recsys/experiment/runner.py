"""Running an experiment: world, warm-up, training, assignment, simulation, per-user table.

Arms are isolated: each arm's policy is trained on the warm-up logs and refitted, on a schedule
(:meth:`~recsys.experiment.config.ExperimentConfig.refit_every`: popularity daily and model-based
policies weekly by default, as in production; frozen when the file asks), on the warm-up logs and
its *own* arm's experiment logs only, so one arm's feedback loop never leaks into another's (and a
user's outcome depends only on the seed, their id and their arm's policy).
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from recsys.policies.artwork import FixedArtwork
from recsys.experiment.assign import assign
from recsys.experiment.config import REFIT_DEFAULTS, ExperimentConfig
from recsys.core.errors import InputError
from recsys.policies import make_policy
from recsys.policies.plugins import object_policy
from recsys.policies.base import Policy
from recsys.core.progress import SILENT, Progress
from recsys.core.rng import KeyedRandom
from recsys.core.logs import Logs
from recsys.simulate.runner import Simulation, arm_rows
from recsys.simulate.store import RunStore
from recsys.simulate.tables import user_table
from recsys.experiment.warmup import WarmupResult, warm_up
from recsys.world.build import World, build_world
from recsys.world.segments import SEGMENTS


@dataclass
class ExperimentResult:
    config: ExperimentConfig
    world: World
    warmup: WarmupResult
    logs: Logs                 # experiment days only
    table: pd.DataFrame        # the per-user table (docs/contracts.md section 1)
    policies: list[Policy]
    arm: np.ndarray            # arm index per user id, -1 outside the experiment
    churn_day: np.ndarray      # day each user's account lapsed, per user id (32767: still active)
    shards: list = None        # the simulator's shard states at the end (previews read their observable part)


def build_policies(config: ExperimentConfig, world: World, objects: Mapping[str, Any] | None = None) -> list[Policy]:
    """Each arm's policy: by name from the registry, or from the object given for it (``objects``)."""
    objects = objects or {}
    out = []
    for a in config.arms:
        try:
            if a.name in objects:
                out.append(object_policy(objects[a.name], a.params, name=a.name))
            else:
                out.append(make_policy(a.policy, dict(a.params), seed=config.seed, world=world))
        except InputError as exc:
            raise InputError(f"arm {a.name!r}: {exc}") from None
    return out


def refit(arm: str, policy: Policy, logs: Logs, world: World, day: int) -> Policy:
    """Refit ``policy``'s model on ``logs`` (days before ``day``), keeping what its artwork policy
    has learnt: a scheduled refresh replaces the model, not the artwork bandit's posterior."""
    learnt = getattr(policy, "artwork", None)
    if learnt is None:
        _fit(arm, policy, logs, world, day=day)
        return policy
    policy.artwork = FixedArtwork()     # fitted and dropped: cheap
    try:
        _fit(arm, policy, logs, world, day=day)
    finally:
        policy.artwork = learnt
    return policy


def refit_schedule(config: ExperimentConfig, name: str, policy: Policy) -> int:
    """Days between refits of ``policy`` shown as ``name``: the file's arm of that name
    (:meth:`ExperimentConfig.refit_every`); for another line-up (an interleaved pair, a paired
    study's ranker) the experiment's ``retrain_every``, else the policy's production schedule
    by its name (0 for a policy the schedules do not name)."""
    arm = next((a for a in config.arms if a.name == name), None)
    if arm is not None:
        return config.refit_every(arm)
    if config.retrain_every is not None:
        return int(config.retrain_every)
    return REFIT_DEFAULTS.get(getattr(policy, "name", None), 0)


def run_experiment(config: ExperimentConfig, *, executor: Executor | None = None, progress: Progress | None = None,
                   keep_impressions: bool = True, store: RunStore | None = None,
                   objects: Mapping[str, Any] | None = None) -> ExperimentResult:
    """Run ``config`` end to end; shards on ``executor``; logs streamed to ``store`` if given.

    With a ``store`` that holds part of an earlier run of the same config, the run resumes
    (see :class:`~recsys.simulate.store.RunStore`) and gives the same result. ``objects``:
    arm name -> a policy or scorer object standing for that arm's policy
    (:func:`recsys.policies.plugins.object_policy`).
    """
    config = config.validate(objects=tuple(objects or ()))
    world = build_world(config.world, config.seed)
    sim = Simulation(world, config.seed, executor=executor, progress=progress or SILENT)
    try:
        return _run(config, world, sim, keep_impressions, store, objects)
    finally:
        sim.close()


def _fit(arm: str, policy: Policy, logs: Logs, world: World, *, day: int) -> None:
    """Fit one arm's policy; a fit that fails on the input names the arm."""
    try:
        policy.fit(logs, world.catalog, day=day, n_users=world.n_users)
    except InputError as exc:
        raise InputError(f"arm {arm!r}: {exc}") from None


def _run(config: ExperimentConfig, world: World, sim: Simulation, keep_impressions: bool,
         store: RunStore | None, objects: Mapping[str, Any] | None = None) -> ExperimentResult:
    warm, arm = prepare(config, world, sim, store)
    policies = build_policies(config, world, objects)
    fit_policies(policies, warm, world, sim, ", ".join(dict.fromkeys(a.policy for a in config.arms)),
                 names=config.arm_names)
    rands = [KeyedRandom.from_seed(config.seed, "policy", a.name) for a in config.arms]
    return simulate_arms(config, world, sim, warm, arm, policies, rands, config.arm_names,
                         keep_impressions=keep_impressions, store=store)


def prepare(config: ExperimentConfig, world: World, sim: Simulation, store: RunStore | None = None, *,
            warm: WarmupResult | None = None) -> tuple[WarmupResult, np.ndarray]:
    """The warm-up (unless ``warm`` is given: one already run on ``sim``), and each user's arm
    index (-1: not in the experiment)."""
    warm = warm if warm is not None else warm_up(sim, config.warmup_days, explore=config.warmup_explore, explore_draw=config.warmup_explore_draw,
                   store=store.phase("warmup", impressions=False) if store else None)
    ids = np.arange(world.n_users, dtype=np.int64)
    arm = assign(ids, [a.share for a in config.arms], config.seed)
    if config.target_segments:
        wanted = np.isin(np.asarray(SEGMENTS, dtype=object)[warm.segment], list(config.target_segments))
        arm[~wanted] = -1
    # users whose account lapsed during the warm-up are no longer users: they are not assigned
    lapsed = np.concatenate([s.churn_day for s in sim.shards]) < 0
    arm[lapsed] = -1
    return warm, arm


def fit_policies(policies: list[Policy], warm: WarmupResult, world: World, sim: Simulation, label: str, *,
                 names: list[str] | None = None) -> None:
    """Fit every policy on the warm-up's observable logs, as of day 0; a fit that fails on the
    input names its arm (``names``, default the label)."""
    train_logs = warm.logs.observed()
    with sim.progress.stage("fit " + label):
        for name, p in zip(names or [label] * len(policies), policies):
            _fit(name, p, train_logs, world, day=0)


def simulate_arms(config: ExperimentConfig, world: World, sim: Simulation, warm: WarmupResult, arm: np.ndarray,
                  policies: list[Policy], rands: list[KeyedRandom], names: list[str], *,
                  keep_impressions: bool = True, store: RunStore | None = None) -> ExperimentResult:
    """The experiment's days with ``policies[a]`` shown to the users of arm ``a`` (named
    ``names[a]``), each learning from its own arm's logs; the per-user table."""
    train_logs = warm.logs.observed()
    sim.set_arms(arm)
    every = [refit_schedule(config, n, p) for n, p in zip(names, policies)]
    own_logs: list[list[Logs]] = [[] for _ in policies]

    def on_day(day: int, logs: Logs, learned: list) -> None:
        for a, p in enumerate(policies):
            if learned[a]:
                p.learn(learned[a])
            if every[a]:
                own_logs[a].append(arm_rows(Logs(logs.plays, logs.sessions, None), arm, a))
                if (day + 1) % every[a] == 0 and day + 1 < config.days:
                    refit(names[a], p, Logs.concat([train_logs, *own_logs[a]]).observed(), world, day + 1)

    sim.progress.begin("experiment day", config.days)
    logs = sim.run(policies, range(config.days), rands, keep_impressions=keep_impressions, on_day=on_day,
                   desc="experiment", store=store.phase("experiment") if store else None)
    inside = np.flatnonzero(arm >= 0)
    churn_day = np.concatenate([s.churn_day for s in sim.shards])
    labels = np.asarray(names, dtype=object)
    table = user_table(logs, inside, labels[arm[inside]], np.asarray(SEGMENTS, dtype=object)[warm.segment[inside]],
                       churn_day[inside], warm.pre, days=config.days)
    return ExperimentResult(config, world, warm, logs, table, policies, arm, churn_day, sim.shards)
