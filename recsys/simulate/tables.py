"""The per-user metrics table (docs/contracts.md section 1), derived from the logs.

One row per experiment user: counts and minutes from the experiment's logs, the segment and
``pre_*`` covariates fixed at assignment (day 0), whether the user churned, how the user came
back (:func:`return_counts`) and, when the experiment's length is given, ``days_observed``: the
user's time to churn (the day the account lapsed, counted inclusively from day 0) or, censored,
the experiment's length. With ``churned`` as the event indicator it is the user's right-censored
time to churn (:mod:`recsys.stats.survival`).

:func:`user_day_table` is the companion per-(user, day) table the novelty and decay analysis
reads (:mod:`recsys.stats.decay`).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from recsys.core.logs import Logs

#: churn_day of a user who has not churned (the simulator's sentinel)
NOT_CHURNED = 32767

COUNT_COLUMNS = ("impressions", "clicks", "plays", "completions", "early_abandons", "sessions", "active_days")
#: how users came back within the experiment (docs/contracts.md section 1): next-day return rate
#: = sum(next_day_returns) / sum(return_chances); mean gap = sum(gap_days) / sum(returns)
RETURN_COLUMNS = ("next_day_returns", "return_chances", "returns", "gap_days")


def return_counts(sessions, user_ids: np.ndarray, last_day: int | None = None) -> dict[str, np.ndarray]:
    """Per user of ``user_ids`` (global ids, any order), from the days they visited in ``sessions``:

    * ``next_day_returns``: visit days followed by a visit the next day;
    * ``return_chances``: visit days before ``last_day`` (the window's last day; default the last
      day in the log), the days that could be followed by one;
    * ``returns``: visit days after the first (each a return);
    * ``gap_days``: days from the first visit to the last, the sum of the gaps between visits.

    Unlike :func:`user_counts` these do not add up over disjoint periods (a return spans two days)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    n_all = int(user_ids.max()) + 1 if len(user_ids) else 0
    u = sessions["user_id"].to_numpy(np.int64)
    d = sessions["day"].to_numpy(np.int64)
    out = {c: np.zeros(len(user_ids), np.int64) for c in RETURN_COLUMNS}
    if len(u) == 0 or n_all == 0:
        return out
    keep = u < n_all
    key = np.unique(u[keep] * 65536 + (d[keep] + 32768))   # sorted by user, then day
    uu, dd = key // 65536, key % 65536 - 32768
    last = int(dd.max()) if last_day is None else int(last_day)
    same = uu[1:] == uu[:-1]
    gap = dd[1:] - dd[:-1]

    def per_user(idx, w=None):
        return np.bincount(idx, weights=w, minlength=n_all)[:n_all][user_ids].astype(np.int64)

    return {"next_day_returns": per_user(uu[1:][same & (gap == 1)]),
            "return_chances": per_user(uu[dd < last]),
            "returns": per_user(uu[1:][same]),
            "gap_days": per_user(uu[1:][same], gap[same].astype(np.float64))}


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
                      churn_day: np.ndarray, pre: pd.DataFrame | None = None, *, days: int | None = None) -> pd.DataFrame:
    """The per-user table from :func:`user_counts` (see :func:`user_table`)."""
    ttfp_n = counts["ttfp_n"]
    churned = np.asarray(churn_day) < 32767
    table = pd.DataFrame({
        "user_id": np.asarray(user_ids, dtype=np.int64),
        "arm": np.asarray(arm, dtype=object),
        "segment": np.asarray(segment, dtype=object),
        **{c: counts[c] for c in ("impressions", "clicks", "plays", "watch_minutes", "completions",
                                  "early_abandons", "sessions", "active_days")},
        "churned": churned.astype(np.int64),
        "time_to_first_play_s": np.where(ttfp_n > 0, counts["ttfp_sum"] / np.maximum(ttfp_n, 1), np.nan),
        **{c: counts[c] for c in RETURN_COLUMNS if c in counts},
    })
    if days is not None:
        table["days_observed"] = np.where(churned, np.minimum(np.asarray(churn_day, np.int64) + 1, days),
                                          days).astype(np.int64)
    if pre is not None:
        pre_cols = [c for c in pre.columns if c.startswith("pre_")]
        table = table.merge(pre[["user_id", *pre_cols]], on="user_id", how="left")
    return table


def user_table(logs: Logs, user_ids: np.ndarray, arm: np.ndarray, segment: np.ndarray,
               churn_day: np.ndarray, pre: pd.DataFrame | None = None, *, days: int | None = None) -> pd.DataFrame:
    """Aggregate experiment logs to one row per user in ``user_ids`` (global ids, any order).

    ``arm``, ``segment`` and ``churn_day`` are aligned with ``user_ids``; ``churn_day`` holds the
    day the account lapsed (a large number if it did not). ``days``: the experiment's length
    (observation ends after day ``days - 1``), which adds ``days_observed`` and bounds the return
    columns' window (:func:`return_counts`).
    """
    last_day = None if days is None else days - 1
    counts = {**user_counts(logs, user_ids), **return_counts(logs.sessions, user_ids, last_day)}
    return table_from_counts(counts, user_ids, arm, segment, churn_day, pre, days=days)


class _ReturnTally:
    """:func:`return_counts` kept up day by day: the visit days of ``user_ids`` fed in day order
    (:meth:`add`), the counts of the days so far (:meth:`counts`, the window ending on the last
    day fed)."""

    def __init__(self, user_ids: np.ndarray):
        self.index = pd.Index(np.asarray(user_ids, dtype=np.int64))
        n = len(self.index)
        self.last = np.full(n, np.iinfo(np.int64).min, np.int64)     # last visit day (none yet)
        self.visit_days = np.zeros(n, np.int64)
        self.out = {c: np.zeros(n, np.int64) for c in ("next_day_returns", "returns", "gap_days")}
        self.day = None

    def add(self, sessions: pd.DataFrame) -> None:
        pos = self.index.get_indexer(sessions["user_id"].to_numpy(np.int64))
        keep = pos >= 0
        key = np.unique(np.column_stack([sessions["day"].to_numpy(np.int64)[keep], pos[keep]]), axis=0)
        for d in np.unique(key[:, 0]):                       # one or a few days: the chunk's
            v = key[key[:, 0] == d, 1]
            prev = self.last[v]
            had = self.visit_days[v] > 0
            self.out["returns"][v] += had
            self.out["gap_days"][v] += np.where(had, d - prev, 0)
            self.out["next_day_returns"][v] += had & (prev == d - 1)
            self.visit_days[v] += 1
            self.last[v] = d

    def counts(self, day: int) -> dict[str, np.ndarray]:
        """The return columns of the window ending on ``day`` (every visit up to it fed)."""
        chances = self.visit_days - (self.last == day)      # visit days before the window's last
        return {"next_day_returns": self.out["next_day_returns"].copy(), "return_chances": chances,
                "returns": self.out["returns"].copy(), "gap_days": self.out["gap_days"].copy()}


def cumulative_tables(logs: Logs, user_ids, arms, segments, churn_day, pre: pd.DataFrame | None = None,
                      days: Iterable[int] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """(day, per-user table of the logs with day <= d) for each day: one aggregation per day,
    by :func:`user_table`, built incrementally: each day's logs are aggregated
    once and added to the sums of the days before (the return columns kept up by a tally of
    visit days). A user counts as churned once churn_day <= d."""
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
    tally = _ReturnTally(user_ids)
    total, p_at, s_at = None, 0, 0
    for d in days:   # each day's logs aggregated once, added to the days before
        p_end, s_end = np.searchsorted(p_day, d, side="right"), np.searchsorted(s_day, d, side="right")
        part = user_counts(Logs(plays=plays.iloc[p_at:p_end], sessions=sessions.iloc[s_at:s_end], impressions=None),
                           user_ids)
        tally.add(sessions.iloc[s_at:s_end])
        total = part if total is None else {k: total[k] + part[k] for k in total}
        p_at, s_at = p_end, s_end
        yield d, table_from_counts({**total, **tally.counts(d)}, user_ids, arms, segments,
                                   np.where(cd <= d, cd, NOT_CHURNED), pre, days=d + 1)


#: the per-(user, day) table's metric columns
DAY_COLUMNS = ("impressions", "clicks", "plays", "completions", "early_abandons", "watch_minutes", "sessions")


def user_day_table(logs: Logs, user_ids: np.ndarray, arm: np.ndarray) -> pd.DataFrame:
    """One row per (user, day) with a visit or a play, for the users in ``user_ids`` (``arm``
    aligned): user_id, arm, day and the day's :data:`DAY_COLUMNS`. Days without activity are
    absent (their counts are zero)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    s, p = logs.sessions, logs.plays
    inside = pd.Index(user_ids)
    s = s[inside.get_indexer(s["user_id"].to_numpy()) >= 0]
    p = p[inside.get_indexer(p["user_id"].to_numpy()) >= 0]
    by = ["user_id", "day"]
    sess = s.groupby(by, sort=True).agg(impressions=("impressions", "sum"), clicks=("clicks", "sum"),
                                        sessions=("session", "size"))
    play = p.assign(completed=p["completed"].astype(np.int64), abandoned=p["abandoned_early"].astype(np.int64)) \
        .groupby(by, sort=True).agg(plays=("minutes", "size"), completions=("completed", "sum"),
                                    early_abandons=("abandoned", "sum"), watch_minutes=("minutes", "sum"))
    out = sess.join(play, how="outer").fillna(0).reset_index()
    ints = [c for c in DAY_COLUMNS if c != "watch_minutes"]
    out[ints] = out[ints].astype(np.int64)
    out["watch_minutes"] = out["watch_minutes"].astype(np.float64)
    out["day"] = out["day"].astype(np.int64)
    out.insert(1, "arm", np.asarray(arm, dtype=object)[inside.get_indexer(out["user_id"].to_numpy())])
    return out[["user_id", "arm", "day", *DAY_COLUMNS]]
