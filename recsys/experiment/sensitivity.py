"""Interleaving against A/B testing on the same world: how many users each needs.

For one world (one seed) :func:`paired_designs` runs the warm-up once and fits each ranker once,
then for each pair of rankers (A, B) runs, from the same state of the world after the warm-up
and on the same users, an A/B test (half the users on A, half on B; the primary metric, CTR,
analysed as ``recsys ab`` does, CUPED included) and a team-draft interleaving of A and B (every
user sees the merged page; the per-user preference on clicks, and the mean per-user click
difference). Each design's effect for B (the CTR difference B - A; the interleaving preference
for B, -delta; the click difference B - A), its standard error and the users it ran on go into
one row. :func:`recsys.stats.interleaving.design_comparison` turns rows
from many worlds into the users each design needs and their ratio.
"""

from __future__ import annotations

import copy
from concurrent.futures import Executor
from typing import Mapping, Sequence

import pandas as pd

from recsys.core.rng import KeyedRandom
from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.interleave import simulate_interleaving
from recsys.experiment.runner import fit_policies, prepare, simulate_arms
from recsys.policies import make_policy
from recsys.policies.interleave import TeamDraftInterleaving
from recsys.simulate.runner import Simulation
from recsys.stats.analysis import analyze
from recsys.stats.interleaving import preference_test
from recsys.world.build import build_world


def paired_designs(config: ExperimentConfig, rankers: Mapping[str, tuple[str, Mapping]],
                   pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """One world: for each pair, an A/B test and an interleaving experiment from the same
    post-warm-up state (see the module docstring). ``rankers``: name -> (policy, parameters) as
    in an experiment file. Rows: seed, pair, design (``ab`` or ``interleaving``), effect (for B),
    se, users, p_value."""
    names = sorted({n for p in pairs for n in p})
    cfg = config.replace(arms=(ArmConfig("A", "random", 0.5), ArmConfig("B", "random", 0.5)), control="A")
    world = build_world(cfg.world, cfg.seed)
    sim = Simulation(world, cfg.seed)
    rows = []
    try:
        warm, arm = prepare(cfg, world, sim)
        fitted = {n: make_policy(rankers[n][0], dict(rankers[n][1]), seed=cfg.seed, world=world) for n in names}
        fit_policies(list(fitted.values()), warm, world, sim, ", ".join(names))
        after_warmup = copy.deepcopy(sim.shards)
        for a, b in pairs:
            label = f"{b} vs {a}"
            rands = [KeyedRandom.from_seed(cfg.seed, "policy", n) for n in (a, b)]
            sim.shards = copy.deepcopy(after_warmup)
            res = simulate_arms(cfg, world, sim, warm, arm, [copy.deepcopy(fitted[a]), copy.deepcopy(fitted[b])],
                                rands, [a, b], keep_impressions=False)
            row = analyze(res.table, a, metrics=["ctr"], cuped=cfg.cuped, seed=cfg.seed).row("ctr", b)
            rows.append({"seed": cfg.seed, "pair": label, "first": a, "second": b, "design": "ab",
                         "effect": row["diff"], "se": row["se"], "users": int(len(res.table)),
                         "p_value": row["p_value"], "control": row["control"], "rel_lift": row["rel_lift"]})
            sim.shards = copy.deepcopy(after_warmup)
            pol = TeamDraftInterleaving(copy.deepcopy(fitted[a]), copy.deepcopy(fitted[b]), rands=tuple(rands))
            il = simulate_interleaving(cfg, world, sim, warm, arm, pol, a, b, fit=False)
            p = preference_test(il.table["clicks_a"], il.table["clicks_b"], alpha=cfg.alpha)
            for design, effect, se, pv in (("interleaving", -p.delta, p.se, p.p_value),
                                           ("interleaving_diff", -p.diff, p.diff_se, p.diff_p_value)):
                rows.append({"seed": cfg.seed, "pair": label, "first": a, "second": b, "design": design,
                             "effect": effect, "se": se, "users": int(len(il.table)), "p_value": pv,
                             "control": 0.0, "rel_lift": float("nan")})
    finally:
        sim.close()
    return pd.DataFrame(rows)


def _one(args) -> pd.DataFrame:
    config, rankers, pairs = args
    return paired_designs(config, rankers, pairs)


def sensitivity_replicates(config: ExperimentConfig, seeds: Sequence[int], rankers: Mapping[str, tuple[str, Mapping]],
                           pairs: Sequence[tuple[str, str]], *, executor: Executor | None = None) -> pd.DataFrame:
    """:func:`paired_designs` on the world of each seed (one task per seed on ``executor``)."""
    tasks = [(config.replace(seed=int(s)), dict(rankers), list(pairs)) for s in seeds]
    parts = list(executor.map(_one, tasks)) if executor is not None else [_one(t) for t in tasks]
    return pd.concat(parts, ignore_index=True)
