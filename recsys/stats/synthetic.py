"""Synthetic per-user tables with known effects, drawn directly with numpy (no simulator).

For tests, calibration runs and benchmarks of the statistics: fast (a million users in about a
second), with the columns of contracts section 1, ``pre_*`` covariates correlated with the
outcomes through a latent activity level, four segments, and optional multiplicative effects
per treatment arm on click-through, watch time and churn.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

SEGMENTS = ("new", "low_engagement", "regular", "power")
_SEGMENT_P = (0.15, 0.3, 0.4, 0.15)
_SEGMENT_ACTIVITY = (0.6, 0.5, 1.0, 2.2)


def synthetic_table(n_users: int, arms: Sequence[str] = ("control", "treatment"), *, seed: int = 0,
                    effects: Mapping[str, Mapping[str, float]] | None = None, shares: Sequence[float] | None = None,
                    days: int = 14) -> pd.DataFrame:
    """A per-user table; ``effects`` = {arm: {"ctr": 1.05, "watch_minutes": 1.02, "churn_rate": 0.9}}
    multiplies that arm's click probability, minutes per play and churn probability."""
    rng = np.random.default_rng(seed)
    n = int(n_users)
    effects = effects or {}
    p = np.full(len(arms), 1 / len(arms)) if shares is None else np.asarray(shares, dtype=float)
    arm_idx = rng.choice(len(arms), size=n, p=p)
    seg_idx = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_P)
    activity = np.asarray(_SEGMENT_ACTIVITY)[seg_idx] * rng.lognormal(0.0, 0.5, n)
    taste = rng.beta(3, 17, n)                            # a user's own click propensity

    def factor(metric: str) -> np.ndarray:
        f = np.array([effects.get(a, {}).get(metric, 1.0) for a in arms])
        return f[arm_idx]

    def period(scale: float, ctr_f, min_f, churn_f, length: int):
        sessions = rng.poisson(activity * scale * length / 7 * 3)
        impressions = rng.poisson(sessions * 12.0)
        clicks = rng.binomial(impressions, np.clip(taste * ctr_f, 0, 1))
        plays = rng.binomial(clicks, 0.55)
        completions = rng.binomial(plays, 0.45)
        early = rng.binomial(plays - completions, 0.35)
        minutes = rng.gamma(2.0, 14.0 * min_f, n) * plays
        active = np.minimum(sessions, rng.binomial(length, np.clip(activity * 0.25, 0, 1)) + (sessions > 0))
        active = np.minimum(active, length)
        churn_p = np.clip(0.35 / (1 + 3 * activity) * churn_f, 0, 1)
        churned = (rng.random(n) < churn_p).astype(np.int64)
        return sessions, impressions, clicks, plays, completions, early, minutes, active, churned

    pre = period(1.0, 1.0, 1.0, 1.0, 28)
    post = period(1.0, factor("ctr"), factor("watch_minutes"), factor("churn_rate"), days)
    sessions, impressions, clicks, plays, completions, early, minutes, active, churned = post
    ttfp = np.where(plays > 0, rng.gamma(3.0, 20.0, n) / (0.5 + taste * 2), np.nan)
    return pd.DataFrame({
        "user_id": np.arange(n, dtype=np.int64),
        "arm": np.asarray(arms, dtype=object)[arm_idx],
        "segment": np.asarray(SEGMENTS, dtype=object)[seg_idx],
        "impressions": impressions, "clicks": clicks, "plays": plays, "watch_minutes": minutes,
        "completions": completions, "early_abandons": early, "sessions": sessions, "active_days": active,
        "churned": churned, "time_to_first_play_s": ttfp,
        "pre_watch_minutes": pre[6], "pre_sessions": pre[0].astype(float), "pre_active_days": pre[7].astype(float),
        "pre_plays": pre[3].astype(float), "pre_clicks": pre[2].astype(float),
        "pre_impressions": pre[1].astype(float), "pre_completions": pre[4].astype(float),
    })
