"""The analysis JSON (contracts section 3) and the `recsys analyze` / `recsys power` commands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.cli import main
from recsys.stats.analysis import ROW_KEYS, analyze
from recsys.stats.metrics import DEFAULT_METRICS


def test_every_metric_segment_arm_once(small_table):
    res = analyze(small_table, "popularity", segments=True)
    labels = sorted(small_table.segment.unique())
    assert res["segments"] == ["all"] + labels
    keys = [(r["metric"], r["segment"], r["arm"]) for r in res["results"]]
    assert len(keys) == len(set(keys)) == len(DEFAULT_METRICS) * (1 + len(labels))
    assert {r["arm"] for r in res["results"]} == {"hybrid"}
    for r in res["results"]:
        assert tuple(r)[: len(ROW_KEYS)] == ROW_KEYS
    assert set(res) >= {"control", "alpha", "correction", "srm", "results", "decision"}
    assert set(res["srm"]) >= {"p_value", "ok", "counts"}
    assert res["decision"]["verdict"] in ("ship", "no-ship", "investigate")
    assert res["decision"]["reasons"]


def test_correction_and_significance(small_table):
    res = analyze(small_table, "popularity", segments=True, correction="holm")
    for r in res["results"]:
        if r["p_value"] is not None and np.isfinite(r["p_value"]):
            assert r["p_adjusted"] >= r["p_value"] - 1e-15
            assert r["significant"] == (r["p_adjusted"] <= 0.05)
    none = analyze(small_table, "popularity", correction="none")
    assert all(r["p_adjusted"] == r["p_value"] for r in none["results"])
    bh = analyze(small_table, "popularity", correction="bh")
    holm = analyze(small_table, "popularity", correction="holm")
    assert all(b["p_adjusted"] <= h["p_adjusted"] + 1e-15 for b, h in zip(bh["results"], holm["results"]))


def test_segments_never_change_the_headline_tests(small_table):
    """The whole-population rows form their own family: the same adjusted p-values with or
    without the segment breakdown, equal to statsmodels' Holm on those rows alone."""
    from statsmodels.stats.multitest import multipletests

    plain = analyze(small_table, "popularity", correction="holm")["results"]
    with_seg = analyze(small_table, "popularity", segments=True, correction="holm")["results"]
    headline = [r for r in with_seg if r["segment"] == "all"]
    assert [r["p_adjusted"] for r in headline] == pytest.approx([r["p_adjusted"] for r in plain])
    expect = multipletests([r["p_value"] for r in plain], method="holm")[1]
    assert [r["p_adjusted"] for r in plain] == pytest.approx(list(expect))
    seg = [r for r in with_seg if r["segment"] != "all"]
    expect = multipletests([r["p_value"] for r in seg], method="holm")[1]
    assert [r["p_adjusted"] for r in seg] == pytest.approx(list(expect))


def test_methods_follow_cuped_and_covariates(small_table):
    with_cuped = {r["metric"]: r for r in analyze(small_table, "popularity")["results"]}
    assert with_cuped["ctr"]["method"] == "delta+cuped"
    assert with_cuped["watch_minutes"]["method"] == "welch+cuped"
    assert with_cuped["time_to_first_play"]["method"] == "welch"     # a mean over users with a play
    assert with_cuped["engagement_efficiency"]["method"] == "bootstrap"
    assert 0 < with_cuped["ctr"]["variance_reduction"] < 1
    plain = {r["metric"]: r for r in analyze(small_table, "popularity", cuped=False)["results"]}
    assert plain["ctr"]["method"] == "delta" and plain["watch_minutes"]["method"] == "welch"
    assert plain["churn_rate"]["method"] == "proportion-z"
    no_pre = small_table[[c for c in small_table.columns if not c.startswith("pre_")]]
    assert {r["method"] for r in analyze(no_pre, "popularity")["results"]} == {"delta", "welch", "proportion-z", "bootstrap"}
    # CUPED narrows the interval where the covariate predicts the metric
    width = lambda r: r["ci_high"] - r["ci_low"]  # noqa: E731
    assert width(with_cuped["ctr"]) < width(plain["ctr"])
    assert width(with_cuped["sessions"]) < width(plain["sessions"])


def test_time_to_first_play_counts_only_users_with_a_play(small_table):
    row = next(r for r in analyze(small_table, "popularity", metrics=["time_to_first_play"])["results"])
    c = small_table[small_table.arm == "popularity"]
    assert row["n_control"] == c.time_to_first_play_s.notna().sum()
    assert row["control"] == pytest.approx(c.time_to_first_play_s.mean())


def test_detects_the_planted_ctr_lift(small_table):
    row = next(r for r in analyze(small_table, "popularity")["results"] if r["metric"] == "ctr")
    assert row["significant"] and row["rel_ci_low"] < 0.08 < row["rel_ci_high"]


def test_three_arms_and_bootstrap_on_request(three_arm_table):
    res = analyze(three_arm_table, "control", metrics=["watch_minutes"], bootstrap=["ctr"], segments=True)
    arms = {r["arm"] for r in res["results"]}
    assert arms == {"a", "b"}
    boot = [r for r in res["results"] if r["metric"] == "ctr"]
    assert boot and all(r["method"] == "bootstrap" for r in boot)
    assert set(res["decision"]["per_arm"]) == {"a", "b"}
    b = next(r for r in res["results"] if r["metric"] == "watch_minutes" and r["arm"] == "b" and r["segment"] == "all")
    assert b["significant"] and b["rel_lift"] > 0.5
    assert {h["metric"] for h in res["heterogeneity"]} >= {"watch_minutes", "ctr"}


def test_srm_forces_investigate(small_table):
    df = small_table.drop(small_table[small_table.arm == "hybrid"].index[:400])
    res = analyze(df, "popularity")
    assert not res["srm"]["ok"]
    assert res["decision"]["verdict"] == "investigate"
    assert "sample ratio mismatch" in res["decision"]["reasons"][0]
    ok = analyze(df, "popularity", shares={"popularity": 2000 / 3600, "hybrid": 1600 / 3600})
    assert ok["srm"]["ok"]


def test_cli_writes_json_and_prints_table(capsys, tmp_path, small_table):
    csv, pq = tmp_path / "u.csv", tmp_path / "u.parquet"
    small_table.to_csv(csv, index=False)
    small_table.to_parquet(pq, index=False)
    outs = []
    for path in (csv, pq):
        out = tmp_path / f"{path.suffix[1:]}.json"
        rc = main(["analyze", str(path), "--control", "popularity", "--segments", "--json", str(out),
                   "--guardrail", "churn_rate=0.05", "--primary", "ctr"])
        printed = capsys.readouterr().out
        assert rc == 0
        assert "ctr" in printed and "Decision:" in printed
        outs.append(json.loads(out.read_text()))
    a, b = outs
    assert [r["p_value"] for r in a["results"]] == pytest.approx([r["p_value"] for r in b["results"]], nan_ok=True)
    assert a["decision"]["roles"]["guardrails"] == {"churn_rate": 0.05}


def test_cli_power(capsys, tmp_path):
    out = tmp_path / "p.json"
    assert main(["power", "--metric", "churn_rate", "--baseline", "0.1", "--mde", "-0.1", "--relative",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["users_per_arm"] > 1000 and res["mde"] == pytest.approx(-0.01)
    assert "users per arm" in capsys.readouterr().out
    assert main(["power", "--metric", "watch_minutes", "--baseline", "180", "--sd", "300", "--users", "10000"]) == 0
    assert "detectable change" in capsys.readouterr().out
