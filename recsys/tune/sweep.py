"""Running a sweep: one multi-arm experiment per replicate, mapped over an executor.

A replicate is ONE experiment whose arms are every grid point (equal shares, the all-zero point
as control). The simulator keeps a user's outcome a function of the seed, their id and their
arm's policy, so putting all points in one experiment is the same as running each against weight
0 on its own, at a fraction of the cost (one world and warm-up per replicate). Replicates use
independent seeds spawned from the experiment's seed: each is a fresh world, population and
assignment. Tasks are top-level functions of picklable arguments, run inline, in a process pool
or on Dask (:mod:`recsys.core.parallel`); results are gathered in task order, so they never depend
on the executor.
"""

from __future__ import annotations

from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from recsys.experiment.runner import run_experiment
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
    """Run one replicate's multi-arm experiment (inline: the sweep parallelises replicates)."""
    cfg = task.config
    res = run_experiment(cfg.experiment_for(task.seed, retrain=task.retrain), executor=None, progress=False,
                         keep_impressions=False)
    n_titles = res.world.catalog.n_titles
    # the head / long tail by pre-experiment (warm-up) plays: public, and the same for every arm
    pop = np.bincount(res.warmup.logs.plays["title"].to_numpy(np.int64), minlength=n_titles)
    users = res.table[["user_id", "arm", "segment"]]
    opts = dict(popularity=pop, sample=cfg.tune.homogenization_sample, seed=task.seed)
    exposure = pd.concat([exposure_table(res.logs.plays, users, n_titles, by=("arm",), **opts).assign(segment="all"),
                          exposure_table(res.logs.plays, users, n_titles, by=("arm", "segment"), **opts)],
                         ignore_index=True)
    return ReplicateResult(task.replicate, task.seed, task.variant, res.table, exposure)


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
