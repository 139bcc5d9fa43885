"""The decay test (:mod:`recsys.stats.decay`) in the world: how often it flags an effect as
decaying or growing when the effect by day since first exposure is constant, and when the
world's novelty and change aversion are on.

Each world (its own seed: catalog, users and draws) runs three arms of a third of the users:
``popularity``, ``hybrid`` and ``hybrid_b``, an identical copy of ``hybrid`` (same parameters,
same fit on the same warm-up logs, fixed artwork). Every policy is frozen (``retrain_every =
0``): none learns from the experiment's logs. Two comparisons per world:

* ``aa``: ``hybrid_b`` against ``hybrid``. The two arms are the same policy and users are
  assigned at random, so the effect is zero on every day since exposure, whatever boredom,
  taste drift, satiation or the change reaction do to the users: the decay test's null
  (early lift = late lift) is true by construction, in the world's own data (its heavy tails,
  its users' correlation across days, who comes back when).
* ``hp``: ``hybrid`` against ``popularity``. With frozen policies and no change reaction the
  effect still moves with the day since exposure (users exhaust the frozen popularity list,
  boredom builds, tastes drift toward what each arm shows), so flags here are not false: the
  study measures that trend (the mean of the worlds' early-vs-late log ratios, and the lift
  by day pooled over worlds) and how the test's spread compares with it.

Each seed runs twice, with the reaction on and off from day 0 (``change_reaction_until = 0``:
the steady-state world), with the same warm-up, users, fitted policies, arms and draws; the
late-window lift of the run with the reaction off is the steady-state truth the run with it on
is checked against.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys.core.parallel import single_threaded_worker
from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.runner import run_experiment
from recsys.simulate.tables import user_day_table
from recsys.stats.decay import DEFAULT_EARLY, DEFAULT_LATE, Exposure, decay_test

HYBRID = {"diversity": 0.3, "artwork": "fixed"}
ARMS = (ArmConfig("popularity", "popularity", 1 / 3), ArmConfig("hybrid", "hybrid", 1 / 3, dict(HYBRID)),
        ArmConfig("hybrid_b", "hybrid", 1 / 3, dict(HYBRID)))
#: comparison -> (control, treatment)
COMPARISONS = {"aa": ("hybrid", "hybrid_b"), "hp": ("popularity", "hybrid")}


def study_config(seed: int, users: int, change_reaction: bool, *, warmup_days: int = 14,
                 days: int = 14) -> ExperimentConfig:
    """One world of the study: the three frozen arms, the reaction to a changed page on or off
    during the experiment (the warm-up the same either way)."""
    cfg = ExperimentConfig()
    behaviour = dataclasses.replace(cfg.world.behaviour, change_reaction_until=None if change_reaction else 0)
    world = dataclasses.replace(cfg.world, users=users, behaviour=behaviour)
    return dataclasses.replace(cfg, name="decay-study", users=users, days=days, warmup_days=warmup_days, seed=seed,
                               world=world, arms=ARMS, control="popularity", retrain_every=0).validate()


def world_records(seed: int, users: int, change_reaction: bool, *, warmup_days: int = 14,
                  days: int = 14) -> tuple[list[dict], pd.DataFrame]:
    """Run one world; the decay test of each comparison (one record each) and the cohort's
    clicks and impressions per arm and day since exposure (for pooling across worlds)."""
    cfg = study_config(seed, users, change_reaction, warmup_days=warmup_days, days=days)
    res = run_experiment(cfg, keep_impressions=False)
    inside = np.flatnonzero(res.arm >= 0)
    daily = user_day_table(res.logs, inside, np.asarray(res.config.arm_names, dtype=object)[res.arm[inside]])
    last = cfg.days - 1
    recs = []
    for name, (control, treatment) in COMPARISONS.items():
        sub = daily[daily["arm"].isin((control, treatment))]
        (t,) = decay_test(sub, control, ["ctr"], last_day=last)
        recs.append({"seed": seed, "reaction": change_reaction, "comparison": name,
                     "early": t.early["rel_lift"], "late": t.late["rel_lift"], "late_low": t.late["rel_ci_low"],
                     "late_high": t.late["rel_ci_high"], "log_ratio": t.log_ratio, "se": t.se,
                     "p_value": t.p_value, "status": t.status, "cohort_users": t.cohort_users})
    ex = Exposure.from_daily(daily, ["clicks", "impressions"], last)
    cohort = ex.observed >= min(DEFAULT_LATE[1], int(ex.observed.max()))
    by_k = []
    for arm in cfg.arm_names:
        sel = cohort & (ex.arm == arm)
        by_k.append(pd.DataFrame({"seed": seed, "reaction": change_reaction, "arm": arm,
                                  "day": np.arange(1, ex.values["clicks"].shape[1] + 1),
                                  "clicks": ex.values["clicks"][sel].sum(axis=0),
                                  "impressions": ex.values["impressions"][sel].sum(axis=0)}))
    return recs, pd.concat(by_k, ignore_index=True)


def _one(args) -> tuple[list[dict], pd.DataFrame]:
    return world_records(*args[:3], warmup_days=args[3], days=args[4])


def run_study(worlds: int, users: int, *, seed: int = 1, warmup_days: int = 14, days: int = 14,
              workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``worlds`` seeds (``seed`` .. ``seed + worlds - 1``), each with the reaction off and on:
    the per-test records and the pooled clicks and impressions by arm and day since exposure."""
    jobs = [(s, users, r, warmup_days, days) for s in range(seed, seed + worlds) for r in (False, True)]
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=single_threaded_worker) as pool:
            out = list(pool.map(_one, jobs))
    else:
        out = [_one(j) for j in jobs]
    return (pd.DataFrame([r for recs, _ in out for r in recs]),
            pd.concat([k for _, k in out], ignore_index=True))


def flag_rate(flags: np.ndarray, level: float = 0.95) -> dict:
    """The share of True with its exact (Clopper-Pearson) interval."""
    n, k = len(flags), int(np.sum(flags))
    ci = sps.binomtest(k, n).proportion_ci(level, method="exact") if n else None
    return {"n": n, "k": k, "rate": k / n if n else float("nan"),
            "low": ci.low if ci else float("nan"), "high": ci.high if ci else float("nan")}


def pooled_lifts(by_k: pd.DataFrame, control: str, treatment: str, windows: Sequence[tuple[int, int]]
                 = (DEFAULT_EARLY, DEFAULT_LATE)) -> list[float]:
    """The relative CTR lift in each window of days since exposure, from clicks and impressions
    summed over all worlds' cohorts (a large-sample view of the true effect by day)."""
    out = []
    for lo, hi in windows:
        w = by_k[(by_k["day"] >= lo) & (by_k["day"] <= hi)].groupby("arm")[["clicks", "impressions"]].sum()
        ctr = w["clicks"] / w["impressions"]
        out.append(float(ctr[treatment] / ctr[control] - 1))
    return out


def summarise(records: pd.DataFrame, by_k: pd.DataFrame, alpha: float = 0.05) -> list[dict]:
    """Per (reaction, comparison): the share flagged decaying or growing (with its exact
    interval), each direction's share, the worlds' mean early-vs-late log ratio with its standard
    error (the trend the worlds share), the spread of the log ratios over the test's mean
    standard error (1 when the test's variance is right and the true trend does not vary between
    worlds), the pooled early and late lifts; with the reaction on, the share of worlds whose
    late-window interval covers the steady-state truth (the same seed's late lift with the
    reaction off) and the mean change of the log ratio that the reaction makes (paired by seed)."""
    out = []
    off = records[~records["reaction"]].set_index(["comparison", "seed"])
    for (reaction, comp), g in records.groupby(["reaction", "comparison"], sort=True):
        lr, se = g["log_ratio"].to_numpy(), g["se"].to_numpy()
        flagged = g["status"].isin(("decaying", "growing")).to_numpy()
        early, late = pooled_lifts(by_k[by_k["reaction"] == reaction], *COMPARISONS[comp])
        row = {"reaction": bool(reaction), "comparison": comp, "worlds": len(g),
               "cohort_users": float(g["cohort_users"].mean()), "flagged": flag_rate(flagged),
               "decaying": float((g["status"] == "decaying").mean()),
               "growing": float((g["status"] == "growing").mean()),
               "mean_log_ratio": float(lr.mean()), "mean_log_ratio_se": float(lr.std(ddof=1) / np.sqrt(len(lr))),
               "spread_over_se": float(lr.std(ddof=1) / np.sqrt(np.mean(se ** 2))),
               "pooled_early": early, "pooled_late": late}
        if reaction:
            truth = off.loc[comp].reindex(g["seed"])
            covered = (g["late_low"].to_numpy() <= truth["late"].to_numpy()) & \
                      (truth["late"].to_numpy() <= g["late_high"].to_numpy())
            d = lr - truth["log_ratio"].to_numpy()
            row["steady_state_covered"] = flag_rate(covered)
            row["reaction_log_ratio"] = float(d.mean())
            row["reaction_log_ratio_se"] = float(d.std(ddof=1) / np.sqrt(len(d)))
        out.append(row)
    return out


def format_table(rows: list[dict], alpha: float = 0.05) -> str:
    """The summary as a plain-text table."""
    pct = lambda x: f"{100 * x:5.1f}%"  # noqa: E731
    lines = [f"{'reaction':8s} {'test':4s} {'worlds':>6s} {'cohort':>6s}  flagged at {alpha:g} [95% CI]"
             f"          decay  grow   mean log ratio (se)  spread/se  pooled early -> late   "
             f"steady-state covered  reaction's log ratio (se)"]
    for r in rows:
        f = r["flagged"]
        on = "on" if r["reaction"] else "off"
        line = (f"{on:8s} {r['comparison']:4s} {r['worlds']:6d} {r['cohort_users']:6.0f}  "
                f"{pct(f['rate'])} [{pct(f['low'])}, {pct(f['high'])}]  {pct(r['decaying'])} {pct(r['growing'])}  "
                f"{r['mean_log_ratio']:+.4f} ({r['mean_log_ratio_se']:.4f})     {r['spread_over_se']:6.2f}   "
                f"{r['pooled_early']:+7.1%} -> {r['pooled_late']:+7.1%}")
        if "steady_state_covered" in r:
            c = r["steady_state_covered"]
            line += (f"   {pct(c['rate'])} [{pct(c['low'])}, {pct(c['high'])}]   "
                     f"{r['reaction_log_ratio']:+.4f} ({r['reaction_log_ratio_se']:.4f})")
        lines.append(line)
    return "\n".join(lines)


def timed_study(worlds: int, users: int, *, seed: int = 1, workers: int = 1, warmup_days: int = 14,
                days: int = 14) -> dict:
    """:func:`run_study` and :func:`summarise`, with the wall time."""
    t0 = time.perf_counter()
    records, by_k = run_study(worlds, users, seed=seed, workers=workers, warmup_days=warmup_days, days=days)
    return {"worlds": worlds, "users": users, "seed": seed, "warmup_days": warmup_days, "days": days,
            "seconds": round(time.perf_counter() - t0, 1), "summary": summarise(records, by_k),
            "records": records.to_dict(orient="records")}
