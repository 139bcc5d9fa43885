"""Capping: absolute and percentile caps, where the percentile comes from, what it removed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core.errors import InputError
from recsys.stats.capping import Cap, cap_table
from recsys.stats.synthetic import synthetic_table


@pytest.fixture(scope="module")
def table():
    return synthetic_table(8000, ("A", "B"), seed=41, effects={"B": {"watch_minutes": 1.05}})


def test_absolute_cap_counts_users_per_arm():
    df = pd.DataFrame({"arm": ["A", "A", "B", "B", "B"], "watch_minutes": [10.0, 700.0, 5.0, 650.0, 900.0]})
    res = cap_table(df, [Cap("watch_minutes", absolute=600)])
    assert res.table.watch_minutes.tolist() == [10.0, 600.0, 5.0, 600.0, 600.0]
    rep = res.columns[0]
    assert rep.capped == {"A": 1, "B": 2} and rep.n == {"A": 2, "B": 3}
    assert rep.basis == "absolute" and rep.value == 600
    assert 0 < rep.variance_removed < 1
    assert df.watch_minutes.max() == 900.0          # the input is not modified


def test_percentile_on_the_control_arm(table):
    df = table.drop(columns=["pre_watch_minutes"])
    res = cap_table(df, {"watch_minutes": {"percentile": 0.99}}, control="A")
    rep = res.columns[0]
    assert rep.basis == "control"
    assert rep.value == pytest.approx(np.quantile(df.watch_minutes[df.arm == "A"], 0.99))
    assert res.table.watch_minutes.max() == pytest.approx(rep.value)
    assert rep.capped["A"] == np.sum(df.watch_minutes[df.arm == "A"] > rep.value)


def test_percentile_on_the_pooled_pre_period(table):
    res = cap_table(table, [Cap("watch_minutes", percentile=0.99)], control="A")
    rep = res.columns[0]
    pre_q = np.quantile(table.pre_watch_minutes, 0.99)
    a = table[table.arm == "A"]
    assert rep.basis == "pre"
    assert rep.value == pytest.approx(pre_q * a.watch_minutes.mean() / a.pre_watch_minutes.mean())
    assert rep.pre_value == pytest.approx(pre_q)
    assert res.table.pre_watch_minutes.max() == pytest.approx(pre_q)      # the covariate is capped alike
    fixed = cap_table(table, [Cap("watch_minutes", percentile=0.99)], pre_scale=0.5)
    assert fixed.columns[0].value == pytest.approx(0.5 * pre_q)


def test_the_cap_does_not_see_the_treatment(table):
    """With the pre or control basis, changing the treatment arm's outcomes leaves the cap alone,
    so capping cannot manufacture an effect."""
    louder = table.copy()
    louder.loc[louder.arm == "B", "watch_minutes"] *= 3
    for basis in ("pre", "control"):
        a = cap_table(table, [Cap("watch_minutes", percentile=0.95)], control="A", basis=basis).columns[0]
        b = cap_table(louder, [Cap("watch_minutes", percentile=0.95)], control="A", basis=basis).columns[0]
        assert a.value == b.value
    pooled = cap_table(louder, [Cap("watch_minutes", percentile=0.95)], basis="pooled").columns[0]
    assert pooled.value == pytest.approx(np.quantile(louder.watch_minutes, 0.95))


def test_capping_removes_variance_of_watch_minutes(table):
    res = cap_table(table, [Cap("watch_minutes", percentile=0.99)], control="A")
    rep = res.columns[0]
    assert 0.05 < rep.variance_removed < 0.6
    assert sum(rep.capped.values()) == pytest.approx(0.01 * len(table), rel=0.5)


def test_empty_values_stay_empty(table):
    res = cap_table(table, [Cap("time_to_first_play_s", percentile=0.9)], control="A")
    assert res.table.time_to_first_play_s.isna().sum() == table.time_to_first_play_s.isna().sum()
    rep = res.columns[0]
    assert rep.n["A"] == table.time_to_first_play_s[table.arm == "A"].notna().sum()


@pytest.mark.parametrize("kwargs, message", [
    ({"absolute": -5.0}, "cap for watch_minutes must be a non-negative number, got -5.0"),
    ({"percentile": 1.5}, "percentile cap for watch_minutes must be in (0, 1), got 1.5"),
    ({"percentile": 0.0}, "percentile cap for watch_minutes must be in (0, 1), got 0.0"),
    ({}, "cap for watch_minutes: give exactly one of absolute and percentile"),
    ({"absolute": 5.0, "percentile": 0.9}, "cap for watch_minutes: give exactly one of absolute and percentile"),
])
def test_bad_cap_is_one_line(kwargs, message):
    with pytest.raises(InputError) as err:
        Cap("watch_minutes", **kwargs)
    assert str(err.value) == message


def test_bad_table_arguments(table):
    with pytest.raises(InputError, match="cannot cap column 'minutes': it is not in the table"):
        cap_table(table, [Cap("minutes", absolute=10)])
    with pytest.raises(InputError, match="unknown cap basis 'median'"):
        cap_table(table, [Cap("watch_minutes", percentile=0.9)], basis="median")
    with pytest.raises(InputError, match="needs the control arm"):
        cap_table(table, [Cap("watch_minutes", percentile=0.9)])
    with pytest.raises(InputError, match="cap for sessions: unknown key"):
        cap_table(table, {"sessions": {"max": 3}})
    with pytest.raises(InputError, match="is capped twice"):
        cap_table(table, [Cap("sessions", absolute=3), Cap("sessions", absolute=4)])
