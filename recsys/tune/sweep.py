"""Running a sweep: one multi-arm experiment per replicate, mapped over an executor.

A replicate is ONE experiment whose arms are every grid point (equal shares, the all-zero point
as control). The simulator keeps a user's outcome a function of the seed, their id and their
arm's policy, so putting all points in one experiment is the same as running each against weight
0 on its own, at a fraction of the cost (one world and warm-up per replicate). Replicates use
independent seeds spawned from the experiment's seed: each is a fresh world, population and
assignment. Tasks are top-level functions of picklable arguments, run inline, in a process pool
or on Dask (:mod:`recsys.core.parallel`); results are gathered in task order, so they never depend
on the executor.

A **paired** replicate (``tune.design = "paired"``) shows every grid point to all of the
replicate's users instead: one world and warm-up, then, from a copy of the same post-warm-up
state, the experiment's days under each point in turn, with the same random draws (the users'
streams are keyed by seed, user and day; the policy's by the control's name for every point, so
the control's table is the one-arm experiment of weight 0 on all the users). Only a
simulator can do this; it removes the users' own variation from every comparison between
points (:mod:`recsys.stats.paired`, :func:`recsys.tune.optimum.within_fit`). Its per-user table
holds each user once per point.
"""

from __future__ import annotations

from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from typing import Callable, Sequence

import copy

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from recsys.core.rng import KeyedRandom
from recsys.experiment.runner import build_policies, fit_policies, prepare, run_experiment, simulate_arms
from recsys.simulate.runner import Simulation
from recsys.world.build import build_world
from recsys.metrics.exposure import exposure_table
from recsys.tune.config import TuneConfig

RETRAINED, STATIC = "retrained", "static"


@dataclass(frozen=True)
class ReplicateTask:
    config: TuneConfig
    replicate: int
    seed: int
    retrain: bool = True

    @property
    def variant(self) -> str:
        return RETRAINED if self.retrain and self.config.experiment.retrain_every else STATIC


@dataclass
class ReplicateResult:
    replicate: int
    seed: int
    variant: str
    table: pd.DataFrame      # the per-user table (docs/contracts.md section 1)
    exposure: pd.DataFrame   # per (arm, segment), segment "all" included: recsys.metrics.exposure measures


def run_replicate(task: ReplicateTask) -> ReplicateResult:
    """Run one replicate (inline: the sweep parallelises replicates): a multi-arm experiment, or
    with the paired design every point on the same users."""
    cfg = task.config
    exp = cfg.experiment_for(task.seed, retrain=task.retrain)
    if cfg.tune.design == "paired":
        table, plays, warm_plays, n_titles = _paired(exp)
    else:
        res = run_experiment(exp, executor=None, progress=False, keep_impressions=False)
        table, plays, warm_plays, n_titles = res.table, res.logs.plays, res.warmup.logs.plays, res.world.catalog.n_titles
    # the head / long tail by pre-experiment (warm-up) plays: public, and the same for every arm
    pop = np.bincount(warm_plays["title"].to_numpy(np.int64), minlength=n_titles)
    users = table[["user_id", "arm", "segment"]]
    opts = dict(popularity=pop, sample=cfg.tune.homogenization_sample, seed=task.seed)
    exposure = pd.concat([_exposure(plays, users, n_titles, ("arm",), opts).assign(segment="all"),
                          _exposure(plays, users, n_titles, ("arm", "segment"), opts)], ignore_index=True)
    return ReplicateResult(task.replicate, task.seed, task.variant, table, exposure)


def _exposure(plays: pd.DataFrame, users: pd.DataFrame, n_titles: int, by: tuple, opts: dict) -> pd.DataFrame:
    """:func:`exposure_table` per arm's own plays (a paired replicate's arms share user ids)."""
    if "arm" not in plays.columns:
        return exposure_table(plays, users, n_titles, by=by, **opts)
    return pd.concat([exposure_table(plays[plays["arm"] == a], users[users["arm"] == a], n_titles, by=by, **opts)
                      for a in users["arm"].unique()], ignore_index=True)


def _paired(exp) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """Every arm of ``exp`` shown to all its users from one post-warm-up state: the per-user
    tables stacked (each user once per arm), the plays with their ``arm``, the warm-up's plays."""
    exp = exp.validate()
    world = build_world(exp.world, exp.seed)
    sim = Simulation(world, exp.seed)
    try:
        warm, arm = prepare(exp, world, sim)
        everyone = np.where(arm >= 0, 0, -1)
        start = copy.deepcopy(sim.shards)
        # one policy stream for every point (the control's): the points differ by their weights only
        rand = [KeyedRandom.from_seed(exp.seed, "policy", exp.control)]
        tables, plays = [], []
        for name, policy in zip(exp.arm_names, build_policies(exp, world)):
            sim.shards = copy.deepcopy(start)
            fit_policies([policy], warm, world, sim, name, names=[name])
            res = simulate_arms(exp, world, sim, warm, everyone, [policy], rand, [name], keep_impressions=False)
            tables.append(res.table)
            plays.append(res.logs.plays.assign(arm=name))
    finally:
        sim.close()
    return (pd.concat(tables, ignore_index=True), pd.concat(plays, ignore_index=True), warm.logs.plays,
            world.catalog.n_titles)


def replicate_tasks(config: TuneConfig) -> list[ReplicateTask]:
    """Every replicate with the configured retraining, then (static_baseline) each without it."""
    seeds = config.replicate_seeds()
    tasks = [ReplicateTask(config, i, s, True) for i, s in enumerate(seeds)]
    if config.tune.static_baseline:
        tasks += [ReplicateTask(config, i, s, False) for i, s in enumerate(seeds)]
    return tasks


def map_tasks(fn: Callable, tasks: Sequence, executor: Executor | None = None, *, progress: bool = False,
              desc: str = "replicates") -> list:
    """``[fn(t) for t in tasks]``, on ``executor`` when given; results in task order."""
    bar = tqdm(total=len(tasks), desc=desc, unit="run", disable=not progress, leave=False)
    with bar:
        if executor is None:
            out = []
            for t in tasks:
                out.append(fn(t))
                bar.update()
            return out
        futures = {executor.submit(fn, t): i for i, t in enumerate(tasks)}
        results: list = [None] * len(tasks)
        for f in as_completed(futures):
            results[futures[f]] = f.result()
            bar.update()
        return results
