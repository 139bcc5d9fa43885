"""The per-user metrics table (docs/contracts.md section 1), derived from the logs.

One row per experiment user: counts and minutes from the experiment's logs, the segment and
``pre_*`` covariates fixed at assignment (day 0), and whether the user churned.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from recsys.core.logs import Logs

#: churn_day of a user who has not churned (the simulator's sentinel)
NOT_CHURNED = 32767

COUNT_COLUMNS = ("impressions", "clicks", "plays", "completions", "early_abandons", "sessions", "active_days")


def user_counts(logs: Logs, user_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user sums of the logs for ``user_ids`` (global ids, any order): the count columns,
    ``watch_minutes`` and the time-to-first-play sum and count. Sums over disjoint logs add up
    (how :func:`cumulative_tables` builds each day's table from the day's logs)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    n_all = int(user_ids.max()) + 1 if len(user_ids) else 0
    p, s = logs.plays, logs.sessions
    up = p["user_id"].to_numpy(np.int64)
    us = s["user_id"].to_numpy(np.int64)

    def per_user(idx, w=None):
        return np.bincount(idx, weights=w, minlength=n_all)[:n_all][user_ids]

    ttfp = s["seconds_to_first_play"].to_numpy(np.float64)
    has = ~np.isnan(ttfp)
    day_key = np.unique(us * 4096 + (s["day"].to_numpy(np.int64) + 2048))
    return {
        "impressions": per_user(us, s["impressions"].to_numpy(np.float64)).astype(np.int64),
        "clicks": per_user(us, s["clicks"].to_numpy(np.float64)).astype(np.int64),
        "plays": per_user(up).astype(np.int64),
        "watch_minutes": per_user(up, p["minutes"].to_numpy(np.float64)),
        "completions": per_user(up, p["completed"].to_numpy(np.float64)).astype(np.int64),
        "early_abandons": per_user(up, p["abandoned_early"].to_numpy(np.float64)).astype(np.int64),
        "sessions": per_user(us).astype(np.int64),
        "active_days": per_user(day_key // 4096).astype(np.int64),
        "ttfp_sum": per_user(us[has], ttfp[has]),
        "ttfp_n": per_user(us[has]),
    }


def table_from_counts(counts: dict[str, np.ndarray], user_ids: np.ndarray, arm: np.ndarray, segment: np.ndarray,
                      churn_day: np.ndarray, pre: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-user table from :func:`user_counts` (see :func:`user_table`)."""
    ttfp_n = counts["ttfp_n"]
    table = pd.DataFrame({
        "user_id": np.asarray(user_ids, dtype=np.int64),
        "arm": np.asarray(arm, dtype=object),
        "segment": np.asarray(segment, dtype=object),
        **{c: counts[c] for c in ("impressions", "clicks", "plays", "watch_minutes", "completions",
                                  "early_abandons", "sessions", "active_days")},
        "churned": (np.asarray(churn_day) < NOT_CHURNED).astype(np.int64),
        "time_to_first_play_s": np.where(ttfp_n > 0, counts["ttfp_sum"] / np.maximum(ttfp_n, 1), np.nan),
    })
    if pre is not None:
        pre_cols = [c for c in pre.columns if c.startswith("pre_")]
        table = table.merge(pre[["user_id", *pre_cols]], on="user_id", how="left")
    return table


def user_table(logs: Logs, user_ids: np.ndarray, arm: np.ndarray, segment: np.ndarray,
               churn_day: np.ndarray, pre: pd.DataFrame | None = None) -> pd.DataFrame:
    """Aggregate experiment logs to one row per user in ``user_ids`` (global ids, any order).

    ``arm``, ``segment`` and ``churn_day`` are aligned with ``user_ids``; ``churn_day`` holds the
    day the account lapsed (a large number if it did not).
    """
    return table_from_counts(user_counts(logs, user_ids), user_ids, arm, segment, churn_day, pre)


def cumulative_tables(logs: Logs, user_ids, arms, segments, churn_day, pre: pd.DataFrame | None = None,
                      days: Iterable[int] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """(day, per-user table of the logs with day <= d) for each day: one aggregation per day,
    by :func:`user_table`, built incrementally: each day's logs are aggregated
    once and added to the sums of the days before. A user counts as churned once churn_day <= d."""
    plays, sessions = logs.plays, logs.sessions
    if days is None:
        seen = np.concatenate([sessions["day"].to_numpy(np.int64), plays["day"].to_numpy(np.int64)])
        days = range(int(seen.min()), int(seen.max()) + 1) if seen.size else []
    p_day = plays["day"].to_numpy(np.int64)
    s_day = sessions["day"].to_numpy(np.int64)
    p_order, s_order = np.argsort(p_day, kind="stable"), np.argsort(s_day, kind="stable")
    plays, sessions = plays.iloc[p_order], sessions.iloc[s_order]
    p_day, s_day = p_day[p_order], s_day[s_order]
    cd = np.asarray(churn_day, dtype=np.int64)
    total, p_at, s_at = None, 0, 0
    for d in days:   # each day's logs aggregated once, added to the days before
        p_end, s_end = np.searchsorted(p_day, d, side="right"), np.searchsorted(s_day, d, side="right")
        part = user_counts(Logs(plays=plays.iloc[p_at:p_end], sessions=sessions.iloc[s_at:s_end], impressions=None),
                           user_ids)
        total = part if total is None else {k: total[k] + part[k] for k in total}
        p_at, s_at = p_end, s_end
        yield d, table_from_counts(total, user_ids, arms, segments, np.where(cd <= d, cd, NOT_CHURNED), pre)
