"""The issue-21 toolkit inside the analysis: the [analysis] options, their rows, the command line
and the daily monitor. (Each method's own reference and calibration tests are in the
test_stats_<method>.py files.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from recsys.cli import main
from recsys.experiment.config import ExperimentConfig
from recsys.stats.analysis import analyze, monitor
from recsys.stats.capping import Cap
from recsys.stats.options import AnalysisOptions
from recsys.stats.poststrat import poststratify
from recsys.stats.synthetic import synthetic_table


@pytest.fixture(scope="module")
def table():
    return synthetic_table(12_000, ("a", "b"), seed=21, effects={"b": {"ctr": 1.05, "watch_minutes": 1.05}})


def test_bayesian_rows_beside_the_tests(table):
    res = analyze(table, "a", options=AnalysisOptions(engine="bayesian"))
    for r in res.results:
        b = r["bayes"]
        assert 0 <= b["chance_to_win"] <= 1 and b["risk_control"] >= 0 and b["risk_treatment"] >= 0
    ctr = res.row("ctr", "b")
    # a flat prior: the posterior of the relative lift is the delta-method normal around it
    assert ctr["bayes"]["chance_to_win"] == pytest.approx(sps.norm.cdf(ctr["rel_lift"] / ctr["rel_se"]), abs=1e-9)
    plain = analyze(table, "a")
    assert [r["p_value"] for r in plain.results] == [r["p_value"] for r in res.results]   # tests unchanged


def test_capping_is_reported_and_removes_variance(table):
    res = analyze(table, "a", options=AnalysisOptions(caps=(Cap("watch_minutes", percentile=0.99),)))
    (cap,) = res.capping
    assert cap["column"] == "watch_minutes" and cap["basis"] == "pre" and sum(cap["capped"].values()) > 0
    assert 0 < cap["variance_removed"] < 1
    capped, raw = res.row("watch_minutes", "b"), analyze(table, "a").row("watch_minutes", "b")
    assert capped["se"] < raw["se"]
    assert "capping" in res.to_dict()


def test_post_stratified_rows_are_gbstats_estimator(table):
    res = analyze(table, "a", options=AnalysisOptions(post_stratify="segment"))
    row = res.row("watch_minutes", "b")
    ref = poststratify(table, "a", "b", ("watch_minutes",), "mean", by="segment", covariate=("pre_watch_minutes",))
    assert row["method"] == "poststrat+cuped" and row["stratified_by"] == "segment"
    assert row["diff"] == pytest.approx(ref.effect.diff, rel=1e-12)
    assert row["se"] ** 2 == pytest.approx(ref.effect.var_diff, rel=1e-12)
    assert row["variance_reduction_vs_cuped"] == pytest.approx(ref.variance_reduction_vs_cuped)
    seg = next(r for r in res.results if r["metric"] == "watch_minutes" and r["segment"] != "all") if \
        len(res.segments) > 1 else None
    assert seg is None                                      # the breakdown was not asked for


def test_several_covariates_and_cupac_report_what_they_add(table):
    opts = AnalysisOptions(covariates={"watch_minutes": (("pre_watch_minutes",), ("pre_plays",), ("pre_sessions",))})
    row = analyze(table, "a", options=opts).row("watch_minutes", "b")
    assert row["method"] == "welch+regression(3)" and row["variance_reduction_vs_cuped"] > 0
    row = analyze(table, "a", options=AnalysisOptions(cupac=True)).row("watch_minutes", "b")
    assert row["method"].startswith("welch+regression") and "cupac_watch_minutes" in row["covariate"]
    assert row["variance_reduction"] > 0


def test_quantile_metrics(table):
    res = analyze(table, "a", metrics=["watch_minutes_p50", "watch_minutes_p90", "time_to_first_play_p50"])
    p50 = res.row("watch_minutes_p50", "b")
    a = table[table.arm == "a"].watch_minutes
    assert p50["control"] == pytest.approx(np.quantile(a, 0.5), rel=0.02)
    assert p50["method"] == "quantile-normal" and p50["kind"] == "quantile"
    t = res.row("time_to_first_play_p50", "b")
    assert t["n_control"] == table[table.arm == "a"].time_to_first_play_s.notna().sum()


def test_group_sequential_monitor_uses_spending_bounds():
    full = synthetic_table(6000, ("c", "t"), seed=4, effects={"t": {"ctr": 1.2}})
    days = [full.assign(clicks=(full.clicks * k) // 4, impressions=(full.impressions * k) // 4) for k in range(1, 5)]
    gs = monitor(days, "c", options=AnalysisOptions(sequential="group-sequential"), planned=4)
    ctr = [r for r in gs if r["metric"] == "ctr"]
    bounds = [r["bound"] for r in ctr]
    assert all(b1 > b2 for b1, b2 in zip(bounds, bounds[1:]))   # O'Brien-Fleming: strict early, easier late
    assert {r["test"] for r in ctr} == {"group-sequential"}
    crossed = np.maximum.accumulate([abs(r["estimate"] / r["se"]) >= r["bound"] for r in ctr])
    assert [r["status"] == "better" for r in ctr] == list(crossed)     # once past a bound, it stays rejected
    assert crossed[-1]


def test_analysis_table_round_trips_through_a_config(tmp_path):
    text = ('[experiment]\nusers = 2000\n\n[analysis]\nengine = "bayesian"\npost_stratify = "segment"\n'
            'sequential = "group-sequential"\nspending = "pocock"\nprior = { mean = 0.0, sd = 0.1 }\n\n'
            '[analysis.capping]\nwatch_minutes = { percentile = 0.99 }\n')
    cfg = ExperimentConfig.from_dict(__import__("tomllib").loads(text))
    again = ExperimentConfig.from_dict(__import__("tomllib").loads(cfg.to_toml()))
    assert again.analysis == cfg.analysis and cfg.analysis.engine == "bayesian"
    assert cfg.analysis.caps == (Cap("watch_minutes", percentile=0.99),)


@pytest.mark.parametrize("extra,needles", [
    (["--cap", "watch_minutes=-5"], ["watch_minutes", "non-negative"]),
    (["--cap", "watch_minutes=p150"], ["percentile", "(0, 1)"]),
    (["--metrics", "watch_minutes_p100"], ["quantile", "(0, 1)"]),
    (["--engine", "bayesian", "--prior", "0,-1"], ["prior", "negative"]),
    (["--prior", "0,0.1"], ["--prior", "bayesian"]),
    (["--post-stratify", "country"], ["country", "not in the table"]),
])
def test_toolkit_bad_input_is_one_line_exit_2(capsys, tmp_path, table, extra, needles):
    path = tmp_path / "u.parquet"
    table.to_parquet(path)
    out = tmp_path / "o.json"
    rc = main(["analyze", str(path), "--control", "a", "--json", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)
    assert not out.exists()


@pytest.mark.parametrize("analysis,needle", [
    ('looks = [0.5, 0.3, 1.0]', "looks out of order"),
    ('prior = { mean = 0.0, variance = -1.0 }', "variance"),
    ('spending = "linear"', "unknown spending function"),
    ('capping = { watch_minutes = { absolute = -1 } }', "non-negative"),
])
def test_bad_analysis_table_in_a_config(capsys, tmp_path, table, analysis, needle):
    path = tmp_path / "u.parquet"
    table.to_parquet(path)
    cfg = tmp_path / "e.toml"
    cfg.write_text(f'[experiment]\ncontrol = "a"\n\n[analysis]\n{analysis}\n')
    rc = main(["analyze", str(path), "--config", str(cfg)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and needle in err and len(err.splitlines()) == 1, err


def test_power_with_looks(capsys, tmp_path):
    out = tmp_path / "p.json"
    assert main(["power", "--metric", "churn_rate", "--baseline", "0.1", "--mde", "-0.01", "--looks", "14",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    gs = res["group_sequential"]
    assert gs["inflation"] > 1 and gs["users"] == int(np.ceil(res["users_per_arm"] * gs["inflation"]))
    assert main(["power", "--metric", "churn_rate", "--baseline", "0.1", "--mde", "-0.01",
                 "--looks", "0.5,0.3,1"]) == 2
    assert "looks out of order" in capsys.readouterr().err
