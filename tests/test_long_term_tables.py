"""The per-user table's survival columns and the per-(user, day) table, from hand-made logs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.simulate import tables as daily
from recsys.core.logs import PLAY_SCHEMA, SESSION_SCHEMA, Logs, frame
from recsys.simulate.tables import DAY_COLUMNS, user_day_table, user_table


def _logs() -> Logs:
    sessions = frame(SESSION_SCHEMA, {
        "user_id": [0, 0, 1, 2, 2, 2], "day": [0, 3, 1, 0, 0, 5], "session": [0, 0, 0, 0, 1, 0],
        "impressions": [10, 8, 6, 5, 5, 7], "clicks": [2, 1, 0, 1, 2, 3], "plays": [1, 1, 0, 1, 1, 1],
        "seconds_to_first_play": [30, 20, np.nan, 10, 12, 40], "repetition": [0] * 6})
    plays = frame(PLAY_SCHEMA, {
        "user_id": [0, 0, 2, 2, 2], "day": [0, 3, 0, 0, 5], "session": [0, 0, 0, 1, 0], "title": [1, 2, 3, 4, 5],
        "artwork": [0] * 5, "source": [0] * 5, "minutes": [30.0, 1.0, 50.0, 20.0, 5.0],
        "completed": [True, False, True, False, False], "abandoned_early": [False, True, False, False, False],
        "episodes": [1] * 5, "p_abandon": [0.1] * 5})
    return Logs(plays=plays, sessions=sessions, impressions=None)


def test_days_observed_is_time_to_churn_or_the_experiment_length():
    ids = np.array([0, 1, 2, 3])
    churn_day = np.array([3, 32767, 0, 32767])
    t = user_table(_logs(), ids, np.array(["a", "b", "a", "b"], dtype=object), np.array(["x"] * 4, dtype=object),
                   churn_day, days=7)
    assert t["days_observed"].tolist() == [4, 7, 1, 7]     # churned at the end of day 3: observed 4 days
    assert t["churned"].tolist() == [1, 0, 1, 0]
    assert "days_observed" not in user_table(_logs(), ids, t["arm"].to_numpy(), t["segment"].to_numpy(), churn_day)


def test_cumulative_tables_censor_at_each_look():
    ids = np.array([0, 1, 2])
    tables = dict(daily.cumulative_tables(_logs(), ids, np.array(["a", "b", "a"], dtype=object),
                                          np.array(["x"] * 3, dtype=object), np.array([3, 32767, 5]), days=range(7)))
    assert tables[1]["days_observed"].tolist() == [2, 2, 2] and tables[1]["churned"].tolist() == [0, 0, 0]
    assert tables[6]["days_observed"].tolist() == [4, 7, 6] and tables[6]["churned"].tolist() == [1, 0, 1]


def test_user_day_table_adds_up_to_the_per_user_table():
    ids = np.array([0, 1, 2])
    arm = np.array(["a", "b", "a"], dtype=object)
    d = user_day_table(_logs(), ids, arm)
    assert list(d.columns) == ["user_id", "arm", "day", *DAY_COLUMNS]
    assert d[["user_id", "day"]].values.tolist() == [[0, 0], [0, 3], [1, 1], [2, 0], [2, 5]]
    row = d[(d.user_id == 2) & (d.day == 0)].iloc[0]
    assert (row.sessions, row.impressions, row.clicks, row.plays, row.completions, row.watch_minutes) == \
        (2, 10, 3, 2, 1, 70.0)
    t = user_table(_logs(), ids, arm, np.array(["x"] * 3, dtype=object), np.array([32767] * 3), days=7)
    sums = d.groupby("user_id")[list(DAY_COLUMNS)].sum().reindex(ids).fillna(0)
    for c in DAY_COLUMNS:
        np.testing.assert_allclose(sums[c].to_numpy(), t[c].to_numpy())
    assert d.loc[d.user_id == 1, "arm"].iloc[0] == "b"
    assert user_day_table(_logs(), np.array([1]), np.array(["b"], dtype=object))["user_id"].tolist() == [1]
    assert isinstance(d, pd.DataFrame)
