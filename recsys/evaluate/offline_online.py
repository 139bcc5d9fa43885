"""Offline against online: do offline metrics rank policies the way an A/B test in the same world does?

:func:`offline_online` runs one world: a warm-up whose logger explores with exact propensities
(``warmup_explore_draw = "uniform"``), keeping its last days for off-policy evaluation; then one
A/B test with every policy as an arm (popularity the control). For each policy it sets beside
its A/B lift over the control (CTR, the primary metric, and watch minutes; CUPED as ``recsys ab``)
the offline figures one would have had before the test:

* NDCG@10 and catalog coverage of its ranking pipeline on a temporal hold-out of the warm-up's
  plays (:func:`recsys.evaluate.arms.arm_offline_metrics`, as the report shows them);
* the whole-page off-policy estimates of its CTR and qualified-play rate from the warm-up's last
  days (:mod:`recsys.evaluate.slate`), and their simulated truth.

:func:`agreement` gives Kendall's tau between each offline figure and each online lift across
the policies, with a bootstrap interval over policies.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from recsys.core.progress import SILENT, Progress
from recsys.core.rng import KeyedRandom
from recsys.evaluate.arms import arm_offline_metrics
from recsys.evaluate.page_ope import estimate_page_policies
from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.logged import logged_warmup, window_of
from recsys.experiment.runner import build_policies, fit_policies, prepare, simulate_arms
from recsys.policies import make_policy
from recsys.simulate.runner import Simulation
from recsys.stats.analysis import analyze
from recsys.world.build import build_world

#: the policies of the study: models x diversity weights x artwork (name -> policy, parameters)
POLICIES: dict[str, tuple[str, dict]] = {
    "popularity": ("popularity", {}),
    "random": ("random", {}),
    "content": ("content", {"diversity": 0.0}),
    "als": ("cf", {"cf": "als", "diversity": 0.0}),
    "als-d0.3": ("cf", {"cf": "als", "diversity": 0.3}),
    "bpr": ("cf", {"cf": "bpr", "diversity": 0.0}),
    "itemknn": ("cf", {"cf": "itemknn", "diversity": 0.0}),
    "ease": ("cf", {"cf": "ease", "diversity": 0.0}),
    "hybrid-d0": ("hybrid", {"diversity": 0.0}),
    "hybrid-d0.3": ("hybrid", {"diversity": 0.3}),
    "hybrid-d0.6": ("hybrid", {"diversity": 0.6}),
    "hybrid-d0.3-bandit-play": ("hybrid", {"diversity": 0.3, "artwork": "bandit-play"}),
    "hybrid-d0.3-bandit-click": ("hybrid", {"diversity": 0.3, "artwork": "bandit-click"}),
}
#: offline figures and online lifts compared
OFFLINE = ("ndcg", "coverage", "ope_ctr", "ope_qualified")
ONLINE = ("ctr_lift", "watch_minutes_lift")


@dataclass
class OfflineOnline:
    """Per policy (``policies``): offline figures, OPE estimates with intervals and truth, A/B
    lifts with intervals; Kendall's tau per (offline, online) pair (``taus``)."""

    config: ExperimentConfig
    policies: pd.DataFrame
    taus: pd.DataFrame
    offline_note: str


def study_config(base: ExperimentConfig, specs: Mapping[str, tuple[str, Mapping]], control: str) -> ExperimentConfig:
    """``base`` with one arm per policy (equal shares), ``control`` the control, and a warm-up
    logger that draws explored titles uniformly (exact propensities for off-policy evaluation)."""
    share = 1.0 / len(specs)
    arms = tuple(ArmConfig(name, policy, share, dict(params)) for name, (policy, params) in specs.items())
    return base.replace(arms=arms, control=control, warmup_explore_draw="uniform")


def offline_online(base: ExperimentConfig, specs: Mapping[str, tuple[str, Mapping]] | None = None, *,
                   control: str = "popularity", window: int = 7, offline_users: int = 4000,
                   executor: Executor | None = None, progress: Progress | None = None) -> OfflineOnline:
    """Run the study on ``base``'s world (its users, days, warm-up and seed); see the module docstring."""
    specs = dict(POLICIES if specs is None else specs)
    config = study_config(base, specs, control)
    world = build_world(config.world, config.seed)
    sim = Simulation(world, config.seed, executor=executor, progress=progress or SILENT)
    try:
        warm, states = logged_warmup(config, sim, window)
        _, arm = prepare(config, world, sim, warm=warm)
        policies = build_policies(config, world)
        fit_policies(policies, warm, world, sim, "every arm")
        rands = [KeyedRandom.from_seed(config.seed, "policy", a.name) for a in config.arms]
        res = simulate_arms(config, world, sim, warm, arm, policies, rands, config.arm_names, keep_impressions=False)
    finally:
        sim.close()
    online = _online(res.table, config)
    offline, note = arm_offline_metrics(res, users=offline_users)
    logged = window_of(config, world, warm, states)
    fresh = {a.name: make_policy(a.policy, dict(a.params), seed=config.seed, world=world) for a in config.arms}
    ope = estimate_page_policies(logged, fresh, alpha=config.alpha, estimators=("snips", "dr"), truth=True)
    df = online.merge(offline[["arm", "ndcg", "coverage"]], on="arm", how="left")
    for reward, name in (("click", "ope_ctr"), ("qualified", "ope_qualified")):
        e = ope[(ope["reward"] == reward) & (ope["estimator"] == "snips")].set_index("policy")
        df[name] = df["arm"].map(e["value"])
        df[f"{name}_ci_low"] = df["arm"].map(e["ci_low"])
        df[f"{name}_ci_high"] = df["arm"].map(e["ci_high"])
        df[f"{name}_truth"] = df["arm"].map(e["truth"])
        d = ope[(ope["reward"] == reward) & (ope["estimator"] == "dr")].set_index("policy")
        df[f"{name}_dr"] = df["arm"].map(d["value"])
    df.insert(1, "policy", [specs[a][0] for a in df["arm"]])
    df.insert(2, "params", [", ".join(f"{k}={v}" for k, v in specs[a][1].items()) for a in df["arm"]])
    return OfflineOnline(config, df, agreement(df), note)


def _online(table: pd.DataFrame, config: ExperimentConfig) -> pd.DataFrame:
    """Per arm: users, CTR, and the relative lifts over the control with their intervals."""
    a = analyze(table, config.control, metrics=["ctr", "watch_minutes"], cuped=config.cuped, seed=config.seed,
                alpha=config.alpha)
    g = table.groupby("arm", sort=False)
    sums = g[["clicks", "impressions", "watch_minutes"]].sum()
    rows = []
    for name in config.arm_names:
        row = {"arm": name, "users": int(g.size()[name]), "ctr": float(sums.loc[name, "clicks"] / sums.loc[name, "impressions"]),
               "watch_minutes": float(sums.loc[name, "watch_minutes"] / g.size()[name])}
        for metric in ("ctr", "watch_minutes"):
            r = a.row(metric, name) if name != config.control else None
            row[f"{metric}_lift"] = r["rel_lift"] if r else 0.0
            row[f"{metric}_lift_ci_low"] = r["rel_ci_low"] if r else 0.0
            row[f"{metric}_lift_ci_high"] = r["rel_ci_high"] if r else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def agreement(df: pd.DataFrame, offline=OFFLINE, online=ONLINE, *, n_boot: int = 2000, seed: int = 0,
              level: float = 0.95) -> pd.DataFrame:
    """Kendall's tau-b between each offline column and each online column across the rows of
    ``df`` (policies), its p-value (scipy) and a percentile bootstrap interval over policies."""
    rng = np.random.default_rng(seed)
    n = len(df)
    idx = rng.integers(0, n, (n_boot, n))
    rows = []
    for off in offline:
        for on in online:
            x, y = df[off].to_numpy(float), df[on].to_numpy(float)
            ok = np.isfinite(x) & np.isfinite(y)
            tau, p = stats.kendalltau(x[ok], y[ok])
            boot = kendall_tau_b(x[idx], y[idx])
            boot = boot[np.isfinite(boot)]
            lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2]) if len(boot) else (np.nan, np.nan)
            rows.append({"offline": off, "online": on, "tau": float(tau), "p_value": float(p), "ci_low": float(lo),
                         "ci_high": float(hi), "policies": int(ok.sum())})
    return pd.DataFrame(rows)


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row pair of ``x`` and ``y`` (shape: samples x items), vectorised
    for the bootstrap: the sum over item pairs of sign(dx) sign(dy), over the square root of the
    untied pairs in x times those in y (as scipy.stats.kendalltau; NaN when either is constant
    or holds a NaN)."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    i, j = np.triu_indices(x.shape[1], 1)
    sx, sy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(axis=1) / np.sqrt((sx * sx).sum(axis=1) * (sy * sy).sum(axis=1))
