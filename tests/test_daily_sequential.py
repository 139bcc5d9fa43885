"""Day-by-day aggregates (recsys.metrics.daily) and the always-valid monitoring `recsys ab` runs."""

from __future__ import annotations

import contextlib
import io
import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import recsys.jobs
from recsys.metrics import daily
from recsys.simulate.tables import cumulative_tables
from recsys.cli import main
from recsys.stats.analysis import analyze

DAYS = 4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small `recsys ab --daily` run of the default experiment; the job is kept for the logs."""
    d = tmp_path_factory.mktemp("ab")
    text = (resources.files("recsys") / "defaults" / "demo.toml").read_text()
    cfg = d / "exp.toml"
    cfg.write_text(text)
    seen = {}
    run_job = recsys.jobs.run_job

    def spy(*args, **kwargs):
        seen["job"] = run_job(*args, **kwargs)
        return seen["job"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recsys.jobs, "run_job", spy)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["ab", str(cfg), "--out", str(d / "out"), "--users", "3000", "--days", str(DAYS),
                         "--daily", "--quiet"])
    assert code == 0
    analysis = json.loads((d / "out" / "analysis.json").read_text())
    return {"job": seen["job"], "stdout": buf.getvalue(), "analysis": analysis}


def _tables(result):
    t = result.table
    cd, _ = daily.churn_day_of(result)
    return list(cumulative_tables(result.logs, t["user_id"].to_numpy(), t["arm"].to_numpy(),
                                        t["segment"].to_numpy(), cd, result.warmup.pre, range(DAYS)))


def test_last_cumulative_table_is_the_final_table(run):
    r = run["job"].result
    tables = _tables(r)
    assert [d for d, _ in tables] == list(range(DAYS))
    pd.testing.assert_frame_equal(tables[-1][1], r.table)


def test_cumulative_tables_count_only_days_so_far(run):
    r = run["job"].result
    s = r.logs.sessions
    for d, tab in _tables(r):
        clicks = s[s["day"] <= d].groupby("user_id")["clicks"].sum()
        expect = clicks.reindex(tab["user_id"]).fillna(0).to_numpy()
        np.testing.assert_array_equal(tab["clicks"].to_numpy(), expect)
    counts = np.array([t["sessions"].sum() for _, t in _tables(r)])
    assert (np.diff(counts) > 0).all()


def test_sequential_records(run):
    a = run["analysis"]
    seq = pd.DataFrame(a["sequential"])
    roles = a["decision"]["roles"]
    assert set(seq["metric"]) == {*roles["success"], *roles["guardrails"]}
    assert set(seq["arm"]) == set(a["arms"][1:])
    for (arm, metric), g in seq.groupby(["arm", "metric"]):
        assert g["day"].tolist() == list(range(DAYS))
        assert (np.diff(g["p_value"]) <= 1e-12).all()                 # always-valid p never rises
        assert len(set(g["tau2"])) == 1                                # fixed at the first look
        ok = np.isfinite(g["ci_low"])
        assert (g["ci_low"][ok] < g["estimate"][ok]).all() and (g["estimate"][ok] < g["ci_high"][ok]).all()
        allowed = {"better", "worse", "not significant", "harmed"} if metric in roles["success"] else \
            {"non-inferior", "inconclusive", "harmed"}
        assert set(g["status"]) <= allowed
    days = [v["day"] for v in a["sequential_decision"]]
    assert days == list(range(DAYS))
    assert {v["verdict"] for v in a["sequential_decision"]} <= {"ship", "no-ship", "inconclusive"}


def test_last_day_against_fixed_horizon(run):
    """On the last day the always-valid interval contains the fixed-horizon estimate and is wider
    than the fixed-horizon interval of the same test without CUPED."""
    a = run["analysis"]
    job = run["job"]
    seq = pd.DataFrame(a["sequential"])
    last = seq[seq["day"] == DAYS - 1].set_index(["arm", "metric"])
    plain = analyze(job.result.table, a["control"], cuped=False, metrics=sorted(set(seq["metric"])))
    raw = {(r["arm"], r["metric"]): r for r in plain.results if r["segment"] == "all"}
    for key, s in last.iterrows():
        fixed = raw[key]
        assert s["ci_low"] <= fixed["diff"] <= s["ci_high"], key
        assert s["ci_high"] - s["ci_low"] > fixed["ci_high"] - fixed["ci_low"], key
        assert s["estimate"] == pytest.approx(fixed["diff"], rel=1e-9, abs=1e-12)


def test_daily_flag_prints_one_line_per_day(run):
    out = run["stdout"]
    lines = out[out.index("Day by day"):].splitlines()
    arms = run["analysis"]["arms"][1:]
    body = [ln for ln in lines[3:] if ln.strip() and ln.split()[0].isdigit()]
    assert len(body) == DAYS * len(arms)
    assert [int(ln.split()[0]) for ln in body] == sorted(d for d in range(DAYS) for _ in arms)
    assert "Always-valid monitor" in out
    verdicts = [v["verdict"] for v in run["analysis"]["sequential_decision"]]
    assert [ln.split()[-1] for ln in body] == verdicts


# --- the daily aggregates on hand-made logs ---------------------------------------------------

@pytest.fixture
def toy():
    users = np.array([10, 11, 12, 13])
    arms = np.array(["a", "b", "a", "b"], dtype=object)
    sessions = pd.DataFrame({"user_id": [10, 10, 11, 12, 13, 99], "day": [0, 0, 1, 1, 1, 0],
                             "impressions": [10, 10, 20, 5, 5, 7], "clicks": [1, 3, 4, 0, 5, 7]})
    plays = pd.DataFrame({"user_id": [10, 11, 11, 13, 99], "day": [0, 1, 1, 1, 0], "title": [0, 1, 2, 2, 0],
                          "minutes": [30.0, 10.0, 20.0, 5.0, 99.0]})
    return users, arms, sessions, plays


def test_daily_metrics_by_hand(toy):
    users, arms, sessions, plays = toy
    d = daily.daily_metrics(sessions, plays, users, arms, days=range(3), arm_order=["a", "b"]).set_index(["arm", "day"])
    assert d.loc[("a", 0), "ctr"] == pytest.approx(4 / 20)       # user 99 is outside the experiment
    assert d.loc[("a", 0), "active_users"] == 1                    # two sessions, one user
    assert d.loc[("b", 1), "watch_min_per_active_user"] == pytest.approx((10 + 20 + 5) / 2)
    assert d.loc[("a", 2), "active_users"] == 0 and np.isnan(d.loc[("a", 2), "ctr"])
    assert (d["users"] == 2).all()


def test_retention_by_hand():
    arms = np.array(["a"] * 4 + ["b"] * 2, dtype=object)
    churn = np.array([-3, 0, 2, daily.NOT_CHURNED, 1, daily.NOT_CHURNED])
    r = daily.retention(churn, arms, range(3), arm_order=["a", "b"]).set_index(["arm", "day"])
    assert r.loc[("a", 0), "at_risk"] == 3                         # churned before day 0: not at risk
    assert r.loc[("a", 0), "survival"] == pytest.approx(2 / 3)
    assert r.loc[("a", 2), "survival"] == pytest.approx(1 / 3)
    assert r.loc[("b", 0), "survival"] == 1.0 and r.loc[("b", 1), "survival"] == 0.5
