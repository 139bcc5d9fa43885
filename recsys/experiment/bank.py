"""A bank of long experiments for the surrogate index (:mod:`recsys.stats.surrogate`).

Each run is an ordinary experiment (:func:`recsys.experiment.runner.run_experiment`) with the
popularity control and a few treatment arms drawn from a menu of policies, diversity weights
and artwork policies, on its own seed, run for ``horizon`` days. From its logs, every user gets
the per-user table of the first ``window`` days (the surrogates: what a ``window``-day
experiment would have seen) beside the long-term outcomes over the whole horizon: minutes
watched (``lt_watch_minutes``), still subscribed at the end (``lt_retained``) and visits
(``lt_sessions``). Beside the window's counts, :func:`window_dynamics` adds what the counts do
not show (the trend within the window, recency, completion and the genre concentration of what
was watched), from the window's logs and the catalog's public genres only. Only a simulator can
give this: it simply runs on.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Executor
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core.errors import InputError
from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.runner import run_experiment
from recsys.simulate.tables import user_counts, user_table
from recsys.stats.surrogate import MIN_EXPERIMENTS, Bank

#: treatment arms a bank run draws from: (label, policy, params)
MENU: tuple[tuple[str, str, dict], ...] = (
    ("hybrid-d0", "hybrid", {"diversity": 0.0, "artwork": "bandit-play"}),
    ("hybrid-d0.3", "hybrid", {"diversity": 0.3, "artwork": "bandit-play"}),
    ("hybrid-d0.6", "hybrid", {"diversity": 0.6, "artwork": "bandit-play"}),
    ("hybrid-d0.9", "hybrid", {"diversity": 0.9, "artwork": "bandit-play"}),
    ("hybrid-click", "hybrid", {"diversity": 0.3, "artwork": "bandit-click"}),
    ("hybrid-fixed", "hybrid", {"diversity": 0.3, "artwork": "fixed"}),
    ("cf", "cf", {}),
    ("content", "content", {}),
    ("random", "random", {}),
)


def check_sizes(runs: int, window: int, horizon: int) -> None:
    """One-line errors for a bank that cannot do its job."""
    if horizon <= window:
        raise InputError(f"the horizon ({horizon} days) must be longer than the surrogate window ({window} days)")
    if window < 1:
        raise InputError(f"the surrogate window must be at least 1 day, got {window}")
    if runs < MIN_EXPERIMENTS:
        raise InputError(f"a surrogate bank needs at least {MIN_EXPERIMENTS} experiments to estimate the model's "
                         f"error; asked for {runs}")


def bank_configs(runs: int, *, users: int, horizon: int, window: int, seed: int = 1, arms_per_run: int = 3,
                 warmup_days: int = 28, base: ExperimentConfig | None = None) -> list[ExperimentConfig]:
    """``runs`` experiment configurations: popularity against ``arms_per_run`` arms of
    :data:`MENU` (cycled so every menu item appears about equally often), seeds ``seed``,
    ``seed + 1``, ..."""
    check_sizes(runs, window, horizon)
    if not 1 <= arms_per_run <= len(MENU):
        raise InputError(f"arms per run must be in 1..{len(MENU)}, got {arms_per_run}")
    base = base or ExperimentConfig()
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(MENU)) for _ in range(runs * arms_per_run // len(MENU) + 1)])
    out = []
    share = 1.0 / (arms_per_run + 1)
    for r in range(runs):
        picks = list(dict.fromkeys(order[r * arms_per_run:(r + 1) * arms_per_run].tolist()))
        while len(picks) < arms_per_run:   # a repeat within one run: take the next unused item
            picks.append(next(i for i in range(len(MENU)) if i not in picks))
        arms = [ArmConfig("popularity", "popularity", share)]
        arms += [ArmConfig(MENU[i][0], MENU[i][1], share, dict(MENU[i][2])) for i in picks]
        last = arms[-1]
        arms[-1] = dataclasses.replace(last, share=1.0 - share * arms_per_run)
        out.append(base.replace(name=f"bank-{r:03d}", seed=int(seed + r), users=users, days=horizon,
                                warmup_days=warmup_days, arms=tuple(arms), control="popularity"))
    return out


def window_table(result, window: int) -> pd.DataFrame:
    """The per-user table of a run's first ``window`` days (what a ``window``-day experiment of
    the same users would have recorded), with the minutes and visits of the window's second half
    (``recent_watch_minutes``, ``recent_sessions``: the rate a user settled into)."""
    if result.config.days < window:
        raise InputError(f"the experiment ran {result.config.days} days, shorter than the surrogate window of "
                         f"{window} days")
    full = result.table
    ids = full["user_id"].to_numpy(np.int64)
    churn = np.asarray(result.churn_day, dtype=np.int64)[ids]
    short_churn = np.where(churn <= window - 1, churn, 32767)
    table = user_table(result.logs.between(0, window - 1), ids, full["arm"].to_numpy(), full["segment"].to_numpy(),
                       short_churn, result.warmup.pre, days=window)
    recent = user_counts(result.logs.between(window - max(window // 2, 1), window - 1), ids)
    table["recent_watch_minutes"] = recent["watch_minutes"]
    table["recent_sessions"] = recent["sessions"]
    genres = result.world.catalog.genres
    for col, values in window_dynamics(result.logs.between(0, window - 1), ids, window, genres).items():
        table[col] = values
    # the same concentration before assignment (the warm-up): the user's own habit, against
    # which the window's shows what the arm did to it
    top, entropy = genre_concentration(result.warmup.logs.plays, ids, genres)
    table["pre_top_genre_share"], table["pre_genre_entropy"] = top, entropy
    return table


def genre_concentration(plays: pd.DataFrame, user_ids: np.ndarray, genres: sp.spmatrix):
    """Per user of ``user_ids``: the largest share of their minutes in ``plays`` that one genre
    took and the entropy of the shares (each play's minutes split evenly over its title's
    genres; 0 and 0 without plays)."""
    index = pd.Index(np.asarray(user_ids, dtype=np.int64))
    n = len(index)
    pu = index.get_indexer(plays["user_id"].to_numpy(np.int64))
    keep = pu >= 0
    g = sp.csr_matrix(genres, dtype=np.float64)
    g = sp.diags(1.0 / np.maximum(np.asarray(g.sum(axis=1)).ravel(), 1.0)) @ g
    minutes, titles = plays["minutes"].to_numpy(np.float64)[keep], plays["title"].to_numpy(np.int64)[keep]
    m = sp.csr_matrix((minutes, (pu[keep], titles)), shape=(n, g.shape[0])) @ g     # user x genre minutes
    m = np.asarray(m.todense())
    total = m.sum(axis=1, keepdims=True)
    share = np.divide(m, total, out=np.zeros_like(m), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(share > 0, share * np.log(share), 0.0).sum(axis=1)
    return share.max(axis=1), entropy


def window_dynamics(logs, user_ids: np.ndarray, window: int, genres: sp.spmatrix) -> dict[str, np.ndarray]:
    """Per user of ``user_ids``, the within-window dynamics the counts do not show, from the
    window's logs (days ``0 .. window - 1``) and the catalog's public genres (titles x genres):

    * ``watch_minutes_slope``, ``sessions_slope``: the least-squares slope of daily minutes and
      visits on the day (days without activity count as zero): is the user warming or cooling;
    * ``last4_watch_minutes``, ``last4_sessions``: the window's last four days;
    * ``days_since_visit``: days from the last visit to the window's end (``window`` if none);
    * ``completion_rate``, ``abandon_rate``: completions and early abandons per play (0 without plays);
    * ``top_genre_share``, ``genre_entropy``: how concentrated the user's minutes are by genre
      (each play's minutes split evenly over its genres), over the window and (``recent_top_genre_share``)
      its second half: the world's boredom is genre-level;
    * ``mean_repetition``: the mean share of a visit's titles already shown on the previous page."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    n = len(user_ids)
    index = pd.Index(user_ids)
    p, s = logs.plays, logs.sessions
    pu = index.get_indexer(p["user_id"].to_numpy(np.int64))
    su = index.get_indexer(s["user_id"].to_numpy(np.int64))
    p, s = p[pu >= 0], s[su >= 0]
    pu, su = pu[pu >= 0], su[su >= 0]
    pd_, sd = p["day"].to_numpy(np.float64), s["day"].to_numpy(np.float64)
    minutes = p["minutes"].to_numpy(np.float64)

    def per_user(idx, w=None):
        return np.bincount(idx, weights=w, minlength=n).astype(np.float64)

    centre = (window - 1) / 2
    sxx = max(float(((np.arange(window) - centre) ** 2).sum()), 1.0)
    plays = per_user(pu)
    has = plays > 0
    last = np.full(n, -1, np.int64)
    np.maximum.at(last, su, sd.astype(np.int64))
    out = {
        "watch_minutes_slope": per_user(pu, (pd_ - centre) * minutes) / sxx,
        "sessions_slope": per_user(su, sd - centre) / sxx,
        "last4_watch_minutes": per_user(pu[pd_ >= window - 4], minutes[pd_ >= window - 4]),
        "last4_sessions": per_user(su[sd >= window - 4]),
        "days_since_visit": np.where(last >= 0, window - 1 - last, window).astype(np.float64),
        "completion_rate": np.where(has, per_user(pu, p["completed"].to_numpy(np.float64)) / np.maximum(plays, 1), 0.0),
        "abandon_rate": np.where(has, per_user(pu, p["abandoned_early"].to_numpy(np.float64)) / np.maximum(plays, 1),
                                 0.0),
    }
    out["top_genre_share"], out["genre_entropy"] = genre_concentration(p, user_ids, genres)
    out["recent_top_genre_share"], _ = genre_concentration(p[pd_ >= window - max(window // 2, 1)], user_ids, genres)
    rep = s["repetition"].to_numpy(np.float64)
    ok = ~np.isnan(rep)
    n_rep = per_user(su[ok])
    out["mean_repetition"] = np.where(n_rep > 0, per_user(su[ok], rep[ok]) / np.maximum(n_rep, 1), 0.0)
    return out


def long_term_prediction(model, result) -> dict:
    """A fitted :class:`~recsys.stats.surrogate.SurrogateIndex`'s prediction for a finished run:
    {outcome, horizon, window, tau2, predictions: [per arm]} (its first ``model.window_`` days)."""
    window = int(model.window_ or result.config.days)
    short = window_table(result, window)
    preds = model.predict_effect(short, result.config.control, days=result.config.days)
    return {"outcome": model.outcome, "horizon": model.horizon_, "window": window, "tau2": model.tau2_,
            "experiments": model.n_experiments_, "predictions": preds}


def bank_rows(result, window: int) -> pd.DataFrame:
    """The bank's rows of one finished long run: the ``window``-day per-user table beside the
    ``lt_*`` outcomes over the run's horizon."""
    horizon = result.config.days
    if horizon <= window:
        raise InputError(f"the horizon ({horizon} days) must be longer than the surrogate window ({window} days)")
    full = result.table
    short = window_table(result, window)
    short["lt_watch_minutes"] = full["watch_minutes"].to_numpy(np.float64)
    short["lt_retained"] = 1.0 - full["churned"].to_numpy(np.float64)
    short["lt_sessions"] = full["sessions"].to_numpy(np.float64)
    return short


def build_bank(configs: Sequence[ExperimentConfig], window: int, *, executor: Executor | None = None,
               on_run: Callable[[int, ExperimentConfig, float], None] | None = None) -> Bank:
    """Run every configuration for its horizon and gather the bank (``on_run(i, config, seconds)``
    after each run)."""
    if not configs:
        raise InputError("no experiments to run for the bank")
    horizons = {c.days for c in configs}
    if len(horizons) != 1:
        raise InputError("every experiment of a bank must have the same horizon")
    horizon = horizons.pop()
    check_sizes(len(configs), window, horizon)
    parts, controls, meta = [], {}, {}
    for i, cfg in enumerate(configs):
        t0 = time.perf_counter()
        result = run_experiment(cfg, executor=executor, keep_impressions=False)
        rows = bank_rows(result, window)
        rows.insert(0, "experiment", cfg.name)
        parts.append(rows)
        controls[cfg.name] = cfg.control
        seconds = time.perf_counter() - t0
        meta[cfg.name] = {"seed": cfg.seed, "users": cfg.users, "arms": [dataclasses.asdict(a) for a in cfg.arms],
                          "seconds": round(seconds, 2)}
        if on_run is not None:
            on_run(i, cfg, seconds)
    return Bank(pd.concat(parts, ignore_index=True), controls, meta, window, horizon)
