"""Synthetic per-user tables with known effects, drawn directly with numpy (no simulator).

For tests, calibration runs and benchmarks of the statistics: fast (a million users in about a
second), with the columns of docs/contracts.md section 1 and the skew of real product data:

* activity is gamma-Poisson: a user's daily visit rate is gamma-distributed (a few heavy users,
  many light ones), sessions Poisson given the rate, so counts are over-dispersed;
* each user has a click propensity of their own (beta), so clicks are clustered by user;
* watch minutes are zero-inflated lognormal: zero without a play, otherwise the plays times a
  per-play length drawn around the user's own lognormal taste for long sittings;
* churn is near 4% over two weeks, likelier for light users;
* the ``pre_*`` covariates come from a 28-day pre-period of the same users, so they are
  correlated with the outcomes through the same latent traits, as CUPED expects.

``effects`` = {arm: {"ctr": 1.05, "watch_minutes": 1.05, "churn_rate": 1.2, "regret_ratio": 1.1}}
multiplies that arm's click propensity, minutes per play, churn probability and early-abandon
probability in the experiment period (never in the pre-period). With ``survival=True`` the
table also has ``days_observed``: a churned user's churn day, drawn from the constant daily
hazard that gives their churn probability over the period (so a churn effect of f is a hazard
ratio of about f), and the period's length for the others.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

SEGMENTS = ("new", "low_engagement", "regular", "power")


def synthetic_table(n_users: int, arms: Sequence[str] = ("control", "treatment"), *, seed: int = 0,
                    effects: Mapping[str, Mapping[str, float]] | None = None, shares: Sequence[float] | None = None,
                    days: int = 14, survival: bool = False) -> pd.DataFrame:
    """A per-user table of ``n_users`` users split over ``arms`` (by ``shares``, equal by default)."""
    rng = np.random.default_rng(seed)
    n = int(n_users)
    effects = effects or {}
    p = np.full(len(arms), 1 / len(arms)) if shares is None else np.asarray(shares, dtype=float)
    arm_idx = rng.choice(len(arms), size=n, p=p)
    rate = rng.gamma(0.9, 0.35, n)                        # visits per day: gamma, mean ~0.32
    new = rng.random(n) < 0.1
    propensity = rng.beta(2.0, 9.0, n)                    # the user's own click propensity, mean ~0.18
    sitting = rng.lognormal(np.log(22.0), 0.6, n)         # the user's typical minutes per play
    frail = rng.lognormal(0.0, 0.5, n)                    # churn proneness

    def factor(metric: str) -> np.ndarray:
        f = np.array([effects.get(a, {}).get(metric, 1.0) for a in arms])
        return f[arm_idx]

    def period(length: int, ctr_f, min_f, churn_f, regret_f, active_rate):
        sessions = rng.poisson(active_rate * length)
        impressions = rng.poisson(sessions * 14.0)
        clicks = rng.binomial(impressions, np.clip(propensity * ctr_f, 0, 1))
        plays = rng.binomial(clicks, 0.55)
        completions = rng.binomial(plays, 0.4)
        early = rng.binomial(plays - completions, np.clip(0.17 * regret_f, 0, 1))
        per_play = sitting * min_f * rng.lognormal(-0.08, 0.4, n)
        minutes = plays * per_play
        active = np.minimum(sessions, rng.binomial(length, 1 - np.exp(-active_rate)))
        churn_p = np.clip(0.07 * frail / (0.4 + active_rate) * 0.32 * churn_f * length / 14, 0, 1)
        churned = (rng.random(n) < churn_p).astype(np.int64)
        return sessions, impressions, clicks, plays, completions, early, minutes, active, churned

    one = np.ones(n)
    pre = period(28, one, one, one, one, np.where(new, rate * 0.25, rate))
    post = period(days, factor("ctr"), factor("watch_minutes"), factor("churn_rate"), factor("regret_ratio"), rate)
    sessions, impressions, clicks, plays, completions, early, minutes, active, churned = post
    ttfp = np.where(plays > 0, rng.gamma(3.0, 4.0, n) / (0.3 + propensity * 3), np.nan)
    pre_active = pre[7]
    seg = np.where(new, 0, np.where(pre_active <= 3, 1, np.where(pre_active <= 11, 2, 3)))
    extra = {}
    if survival:   # drawn last, so the other columns do not depend on it
        p_churn = np.clip(0.07 * frail / (0.4 + rate) * 0.32 * factor("churn_rate") * days / 14, 1e-9, 1 - 1e-9)
        hazard = -np.log1p(-p_churn) / days
        u = rng.random(n)     # the churn time given churn by `days`: inverse cdf of the truncated exponential
        t = -np.log1p(-u * p_churn) / hazard
        extra["days_observed"] = np.where(churned > 0, np.clip(np.ceil(t), 1, days), days).astype(np.int64)
    return pd.DataFrame({
        "user_id": np.arange(n, dtype=np.int64),
        "arm": np.asarray(arms, dtype=object)[arm_idx],
        "segment": np.asarray(SEGMENTS, dtype=object)[seg],
        "impressions": impressions, "clicks": clicks, "plays": plays, "watch_minutes": minutes,
        "completions": completions, "early_abandons": early, "sessions": sessions, "active_days": active,
        "churned": churned, "time_to_first_play_s": ttfp,
        "pre_watch_minutes": pre[6], "pre_sessions": pre[0].astype(float), "pre_active_days": pre_active.astype(float),
        "pre_plays": pre[3].astype(float), "pre_clicks": pre[2].astype(float),
        "pre_impressions": pre[1].astype(float), "pre_completions": pre[4].astype(float),
        "pre_early_abandons": pre[5].astype(float), **extra,
    })


def synthetic_daily(n_users: int, arms: Sequence[str] = ("control", "treatment"), *, days: int = 14, seed: int = 0,
                    lift: Mapping[str, Sequence[float]] | None = None,
                    completion_lift: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """A per-(user, day) table (:func:`recsys.simulate.tables.user_day_table`'s columns) with a
    known effect by day since first exposure: ``lift[arm][k - 1]`` multiplies that arm's click
    propensity on day k since the user's first visit (``completion_lift`` likewise the
    completion probability), so the true relative CTR lift on day k is exactly ``lift[arm][k-1]``
    - 1 (for any mix of users). Users visit on each day with a rate of their own (gamma), so
    first exposures spread over the first days as in a real experiment."""
    rng = np.random.default_rng(seed)
    n = int(n_users)
    arm_idx = rng.integers(0, len(arms), n)
    rate = np.clip(rng.gamma(1.2, 0.45, n), 0.02, 0.95)           # daily visit probability
    propensity = rng.beta(2.0, 9.0, n)
    finish = rng.beta(4.0, 5.0, n)
    sitting = rng.lognormal(np.log(22.0), 0.6, n)
    visit = rng.random((n, days)) < rate[:, None]
    first = np.where(visit.any(axis=1), visit.argmax(axis=1), days)
    k = np.arange(days)[None, :] - first[:, None]                  # 0-based day since exposure; < 0 before

    def factor(table, default=1.0):
        f = np.ones((len(arms), days))
        for a, v in (table or {}).items():
            v = np.asarray(v, dtype=np.float64)
            f[list(arms).index(a)] = np.concatenate([v, np.full(max(days - len(v), 0), v[-1])])[:days]
        return np.where(k >= 0, f[arm_idx][np.arange(n)[:, None], np.clip(k, 0, days - 1)], default)

    sessions = np.where(visit, 1 + rng.poisson(0.4, (n, days)), 0)
    impressions = rng.poisson(sessions * 14.0)
    clicks = rng.binomial(impressions, np.clip(propensity[:, None] * factor(lift), 0, 1))
    plays = rng.binomial(clicks, 0.55)
    completions = rng.binomial(plays, np.clip(finish[:, None] * factor(completion_lift), 0, 1))
    early = rng.binomial(plays - completions, 0.2)
    minutes = plays * sitting[:, None] * rng.lognormal(-0.08, 0.4, (n, days))
    u, d = np.nonzero(sessions > 0)
    return pd.DataFrame({
        "user_id": u.astype(np.int64), "arm": np.asarray(arms, dtype=object)[arm_idx[u]], "day": d.astype(np.int64),
        "impressions": impressions[u, d], "clicks": clicks[u, d], "plays": plays[u, d],
        "completions": completions[u, d], "early_abandons": early[u, d], "watch_minutes": minutes[u, d],
        "sessions": sessions[u, d],
    })


def synthetic_bank(n_experiments: int, users: int = 3000, *, arms_per_experiment: int = 3, seed: int = 0,
                   short_sd: float = 0.05, tau: float = 0.03, drift: float = 0.0) -> tuple[pd.DataFrame, dict]:
    """A bank for the surrogate index with a known structure: each treatment arm moves the
    short-term metrics by a log effect a ~ N(0, ``short_sd``), which carries into the long term
    through them, and the long-term outcome by a further b ~ N(0, ``tau``) that no short-term
    metric shows (the surrogacy error); ``drift`` adds a systematic part to b (every treatment
    gains on the control after the window, as against a control that wears out). Returns (rows,
    {experiment: control})."""
    rng = np.random.default_rng(seed)
    parts, controls = [], {}
    for e in range(n_experiments):
        name = f"exp{e:02d}"
        arms = ["control"] + [f"t{j}" for j in range(arms_per_experiment)]
        a = np.concatenate([[0.0], rng.normal(0, short_sd, arms_per_experiment)])
        b = np.concatenate([[0.0], rng.normal(drift, tau, arms_per_experiment)])
        arm = rng.integers(0, len(arms), users)
        engage = rng.gamma(1.5, 1.0, users)
        pre = engage * 200 * rng.lognormal(0, 0.3, users)
        minutes = engage * 100 * np.exp(a[arm]) * rng.lognormal(0, 0.4, users)
        sessions = rng.poisson(engage * 6 * np.exp(a[arm]))
        churned = (rng.random(users) < 0.05 / (0.5 + engage)).astype(np.int64)
        alive = 1 - churned
        long = (minutes + alive * 3.0 * minutes * np.exp(b[arm])) * rng.lognormal(0, 0.3, users)
        parts.append(pd.DataFrame({
            "experiment": name, "user_id": np.arange(users), "arm": np.asarray(arms, dtype=object)[arm],
            "watch_minutes": minutes, "sessions": sessions, "churned": churned, "pre_watch_minutes": pre,
            "lt_watch_minutes": long, "lt_retained": alive.astype(float)}))
        controls[name] = "control"
    return pd.concat(parts, ignore_index=True), controls
