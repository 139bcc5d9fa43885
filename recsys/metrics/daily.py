"""Day-by-day views of experiment logs: curves per arm and retention (catalog exposure:
:mod:`recsys.metrics.exposure`; the cumulative per-user tables the daily monitor reads:
:func:`recsys.simulate.tables.cumulative_tables`).

Every function takes plain log frames (``sessions``, ``plays`` with ``user_id`` and ``day``
columns, :mod:`recsys.core.logs`) plus the experiment's users and their arms as aligned
arrays, and returns a tidy DataFrame (or records), so the same code serves a finished run or
logs streamed in one day at a time. Descriptive aggregates only; inference stays in
:mod:`recsys.stats`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from recsys.simulate.tables import NOT_CHURNED




def _arm_of_rows(user_col: pd.Series, user_ids, arms) -> np.ndarray:
    """The arm of each log row (None for users outside the experiment)."""
    pos = pd.Index(np.asarray(user_ids)).get_indexer(user_col.to_numpy())
    out = np.asarray(arms, dtype=object)[np.maximum(pos, 0)]
    out[pos < 0] = None
    return out


def _grid(days: Iterable[int], arms: Sequence[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_product([list(arms), list(days)], names=["arm", "day"])


def _div(a, b) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(a, b, out=np.full(np.broadcast(a, b).shape, np.nan), where=b > 0)


def _arm_order(arms, order: Sequence[str] | None) -> list[str]:
    return list(order) if order is not None else list(pd.unique(np.asarray(arms, dtype=object)))


def _days(logs_days: Sequence[pd.Series], days: Iterable[int] | None) -> list[int]:
    if days is not None:
        return [int(d) for d in days]
    seen = np.concatenate([d.to_numpy(np.int64) for d in logs_days]) if logs_days else np.empty(0, np.int64)
    return list(range(int(seen.min()), int(seen.max()) + 1)) if seen.size else []


def daily_metrics(sessions: pd.DataFrame, plays: pd.DataFrame, user_ids, arms, *,
                  days: Iterable[int] | None = None, arm_order: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (arm, day): users, active users, sessions, impressions, clicks, ctr, plays,
    watch_minutes and watch minutes per active user (a user with a visit that day)."""
    order = _arm_order(arms, arm_order)
    days = _days([sessions["day"], plays["day"]], days)
    s = sessions.assign(arm=_arm_of_rows(sessions["user_id"], user_ids, arms)).dropna(subset=["arm"])
    p = plays.assign(arm=_arm_of_rows(plays["user_id"], user_ids, arms)).dropna(subset=["arm"])
    grid = _grid(days, order)
    by = ["arm", "day"]
    out = pd.DataFrame(index=grid)
    out["users"] = pd.Series(arms).value_counts().reindex(order).to_numpy().repeat(len(days))
    out["active_users"] = s.drop_duplicates(["user_id", "day"]).groupby(by).size()
    out["sessions"] = s.groupby(by).size()
    sums = s.groupby(by)[["impressions", "clicks"]].sum()
    out["impressions"], out["clicks"] = sums["impressions"], sums["clicks"]
    out["plays"] = p.groupby(by).size()
    out["watch_minutes"] = p.groupby(by)["minutes"].sum().astype(np.float64)
    out = out.fillna(0)
    out["ctr"] = _div(out["clicks"], out["impressions"])
    out["watch_min_per_active_user"] = _div(out["watch_minutes"], out["active_users"])
    ints = ["users", "active_users", "sessions", "impressions", "clicks", "plays"]
    out[ints] = out[ints].astype(np.int64)
    return out.reset_index()


def retention(churn_day, arms, days: Iterable[int], *, arm_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Survival per (arm, day): the share of the arm's users at risk on the first day (not
    churned before it) who have not churned by the end of day d."""
    days = [int(d) for d in days]
    order = _arm_order(arms, arm_order)
    cd = np.asarray(churn_day, dtype=np.int64)
    a = pd.Categorical(np.asarray(arms, dtype=object), categories=order)
    at_risk = cd >= days[0]
    n = pd.Series(at_risk).groupby(a, observed=False).sum()
    # users churned on each day, then a running total per arm
    during = at_risk & (cd <= days[-1])
    counts = pd.crosstab(pd.Categorical(a[during], categories=order),
                         pd.Categorical(cd[during], categories=days), dropna=False)
    counts = counts.reindex(index=order, columns=days, fill_value=0)
    churned = counts.cumsum(axis=1)
    out = churned.stack().rename("churned").reset_index()
    out.columns = ["arm", "day", "churned"]
    out["day"] = out["day"].astype(np.int64)
    out["at_risk"] = n.reindex(out["arm"]).to_numpy().astype(np.int64)
    out["survival"] = 1.0 - _div(out["churned"], out["at_risk"])
    out["arm"] = out["arm"].astype(object)
    return out[["arm", "day", "at_risk", "churned", "survival"]]


def estimated_churn_day(sessions: pd.DataFrame, user_ids, churned) -> np.ndarray:
    """When the exact churn day is not logged: a churned user's last visit (the earliest day
    the account could have lapsed; -1 with no visit), ``NOT_CHURNED`` otherwise."""
    last = sessions.groupby("user_id")["day"].max()
    last = last.reindex(np.asarray(user_ids)).fillna(-1).to_numpy(np.int64)
    return np.where(np.asarray(churned) > 0, last, NOT_CHURNED)


def churn_day_of(result) -> tuple[np.ndarray, bool]:
    """The experiment users' churn days (aligned with ``result.table``) and whether they are
    exact: from ``result.churn_day`` (indexed by user id) when the runner keeps it, else
    estimated from the last visit (:func:`estimated_churn_day`)."""
    ids = result.table["user_id"].to_numpy(np.int64)
    exact = getattr(result, "churn_day", None)
    if exact is not None:
        return np.asarray(exact, dtype=np.int64)[ids], True
    return estimated_churn_day(result.logs.sessions, ids, result.table["churned"].to_numpy()), False
