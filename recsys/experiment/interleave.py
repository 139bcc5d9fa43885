"""An interleaving experiment: every user in it sees the team-draft merge of two arms' pages.

The world, the warm-up, who is in the experiment and how each ranker is built and fitted are
those of the A/B test the experiment file describes (:mod:`recsys.experiment.runner`); only the
page differs. Each ranker builds the page it would have shown the user as an arm of that A/B
test (the same keyed randomness); :class:`~recsys.policies.interleave.TeamDraftInterleaving`
merges the two, and the impression log records which ranker contributed each examined card.
:func:`credit_table` then credits clicks and qualified plays (a homepage play not abandoned
within two minutes) to the ranker of their card, per user.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.core.logs import SOURCE_HOME, Logs
from recsys.core.progress import SILENT, Progress
from recsys.core.rng import KeyedRandom
from recsys.experiment.config import ExperimentConfig
from recsys.experiment.runner import ExperimentResult, build_policies, fit_policies, prepare, simulate_arms
from recsys.policies.base import Policy
from recsys.policies.interleave import TEAM_A, TEAM_B, TeamDraftInterleaving
from recsys.simulate.runner import Simulation
from recsys.world.build import build_world

#: what a ranker can be credited with
CREDITS = ("clicks", "qualified_plays")
#: the label of the interleaved arm in the per-user table
ARM = "interleaved"
#: the credit columns the per-user table gains, per ranker
CREDIT_COLUMNS = ("impressions", "clicks", "qualified_plays")


@dataclass
class InterleavingResult:
    """A finished interleaving run: which arms were merged, the run, and the per-user table
    (the A/B table's columns plus ``<credit>_a`` and ``<credit>_b`` per credit)."""

    config: ExperimentConfig
    first: str
    second: str
    result: ExperimentResult
    table: pd.DataFrame


def choose_arms(config: ExperimentConfig, arms: tuple[str, str] | None) -> tuple[str, str]:
    """The two arms to interleave: as given, or the control (A) and the first other arm (B)."""
    names = config.arm_names
    if arms is None:
        other = [n for n in names if n != config.control]
        return config.control, other[0]
    first, second = arms
    for a in (first, second):
        if a not in names:
            raise InputError(f"unknown arm {a!r} to interleave (arms: {', '.join(names)})")
    if first == second:
        raise InputError(f"interleave two different arms, got {first!r} twice")
    return first, second


def credit_table(logs: Logs, user_ids: np.ndarray) -> pd.DataFrame:
    """Per user of ``user_ids``: examined cards, clicks and qualified plays of each team
    (columns ``impressions_a``, ``impressions_b``, ``clicks_a``, ... ``qualified_plays_b``).

    A qualified play is a homepage play not abandoned within two minutes; it is credited to the
    card it was started from (same user, day, session and title). Vectorised over the logs.
    """
    imps = logs.impressions
    if imps is None:
        raise InputError("credit needs the impression log (run with keep_impressions)")
    users = np.asarray(user_ids, dtype=np.int64)
    pos = pd.Index(users)
    keys = ["user_id", "day", "session", "title"]
    p = logs.plays
    qualified = p[(p["source"].to_numpy() == SOURCE_HOME) & ~p["abandoned_early"].to_numpy(dtype=bool)][keys]
    joined = imps[keys + ["team", "clicked"]].merge(qualified.assign(_q=1.0), on=keys, how="left", sort=False)
    q = joined["_q"].fillna(0.0).to_numpy() * joined["clicked"].to_numpy(dtype=bool)
    row = pos.get_indexer(joined["user_id"].to_numpy())
    team = joined["team"].to_numpy()
    inside = row >= 0
    out = {"user_id": users}
    for name, w in (("impressions", np.ones(len(joined))), ("clicks", joined["clicked"].to_numpy(np.float64)),
                    ("qualified_plays", q)):
        for t, suffix in ((TEAM_A, "a"), (TEAM_B, "b")):
            sel = inside & (team == t)
            out[f"{name}_{suffix}"] = np.bincount(row[sel], weights=w[sel], minlength=len(users)).astype(np.int64)
    return pd.DataFrame(out)


def interleaved_policy(config: ExperimentConfig, world, first: str, second: str,
                       objects: Mapping[str, Any] | None = None) -> TeamDraftInterleaving:
    """The two arms' policies (built as the A/B would, plugins and ``objects`` included) merged by
    team draft."""
    policies = dict(zip(config.arm_names, build_policies(config, world, objects)))
    rands = tuple(KeyedRandom.from_seed(config.seed, "policy", a) for a in (first, second))
    return TeamDraftInterleaving(policies[first], policies[second], rands=rands)


def run_interleaving(config: ExperimentConfig, arms: tuple[str, str] | None = None, *,
                     executor: Executor | None = None, progress: Progress | None = None,
                     objects: Mapping[str, Any] | None = None) -> InterleavingResult:
    """Run ``config``'s world, warm-up and experiment days with every user of the experiment
    shown the team-draft merge of two of its arms (see :func:`choose_arms`); the per-user table
    with each ranker's credit. Results do not depend on ``executor``. ``objects``: arm name -> a
    policy or scorer object standing for that arm, as in :func:`recsys.experiment.runner.run_experiment`."""
    config = config.validate(objects=tuple(objects or ()))
    first, second = choose_arms(config, arms)
    world = build_world(config.world, config.seed)
    sim = Simulation(world, config.seed, executor=executor, progress=progress or SILENT)
    try:
        warm, arm = prepare(config, world, sim)
        policy = interleaved_policy(config, world, first, second, objects)
        return simulate_interleaving(config, world, sim, warm, arm, policy, first, second)
    finally:
        sim.close()


def simulate_interleaving(config: ExperimentConfig, world, sim: Simulation, warm, arm: np.ndarray, policy: Policy,
                          first: str, second: str, *, fit: bool = True) -> InterleavingResult:
    """The experiment days of an interleaving run from a warmed-up ``sim`` (``arm`` >= 0: in the
    experiment); ``fit`` False when ``policy`` is already fitted on the warm-up."""
    if fit:
        fit_policies([policy], warm, world, sim, f"{first}, {second}")
    inside = np.where(arm >= 0, 0, -1).astype(np.int8)
    rand = KeyedRandom.from_seed(config.seed, "policy", "interleaving")
    res = simulate_arms(config, world, sim, warm, inside, [policy], [rand], [ARM], keep_impressions=True)
    credits = credit_table(res.logs, res.table["user_id"].to_numpy())
    table = res.table.merge(credits, on="user_id", how="left", validate="one_to_one")
    return InterleavingResult(config, first, second, res, table)


def _aa_config(seed: int, policy: str, users: int, days: int, warmup_days: int, titles: int) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "experiment": {"name": f"a-vs-a-{policy}", "seed": seed, "users": users, "days": days,
                       "warmup_days": warmup_days, "control": "a"},
        "world": {"titles": titles, "cast": max(titles // 2, 50)},
        "arms": [{"name": "a", "policy": policy, "share": 0.5}, {"name": "b", "policy": policy, "share": 0.5}]})


def _aa_one(args) -> dict:
    seed, policy, users, days, warmup_days, titles, alpha = args
    from recsys.stats.interleaving import preference_test

    res = run_interleaving(_aa_config(seed, policy, users, days, warmup_days, titles))
    t = res.table
    out = {"seed": seed, "policy": policy}
    for c in CREDITS:
        p = preference_test(t[f"{c}_a"], t[f"{c}_b"], credit=c, alpha=alpha)
        out.update({f"{c}_n": p.n, f"{c}_delta": p.delta, f"{c}_p": p.p_value, f"{c}_sign_p": p.sign_p_value})
    return out


def a_vs_a(seeds, policy: str = "popularity", *, users: int = 800, days: int = 3, warmup_days: int = 7,
           titles: int = 300, alpha: float = 0.05, executor: Executor | None = None) -> pd.DataFrame:
    """Interleave ``policy`` with itself in a small world once per seed (each seed its own world,
    users and coin flips): one row per seed with each credit's preference test. Two instances of
    the same policy with their own keyed randomness (arms ``a`` and ``b``), so a stochastic
    policy (random) shows two different but exchangeable pages; the test should reject at
    ``alpha``."""
    tasks = [(int(s), policy, users, days, warmup_days, titles, alpha) for s in seeds]
    rows = list(executor.map(_aa_one, tasks)) if executor is not None else [_aa_one(t) for t in tasks]
    return pd.DataFrame(rows)
