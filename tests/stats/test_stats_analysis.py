"""The analysis JSON (docs/contracts.md section 3) and the `recsys analyze` / `recsys power` commands."""

from __future__ import annotations

import json

import pytest

from recsys.cli import main
from recsys.decision import decide
from recsys.stats.analysis import ROW_KEYS, analyze
from recsys.stats.metrics import DEFAULT_METRICS, get_metric
from recsys.stats.roles import Guardrail, Roles


def full(df, control, **kw) -> dict:
    """The analysis JSON as the command line writes it: analysis plus decision."""
    a = analyze(df, control, **kw)
    return {**a.to_dict(), "decision": decide(a).to_dict()}


def test_every_metric_segment_arm_once(small_table):
    res = full(small_table, "popularity", segments=True)
    labels = sorted(small_table.segment.unique())
    assert res["segments"] == ["all"] + labels
    keys = [(r["metric"], r["segment"], r["arm"]) for r in res["results"]]
    # by default every registry metric whose columns the table has is reported
    present = [m for m in DEFAULT_METRICS if all(c in small_table.columns for c in get_metric(m).columns)]
    assert "churn_hazard" not in present           # no days_observed column in this table
    assert len(keys) == len(set(keys)) == len(present) * (1 + len(labels))
    assert {r["arm"] for r in res["results"]} == {"hybrid"}
    for r in res["results"]:
        assert tuple(r)[: len(ROW_KEYS)] == ROW_KEYS
    assert set(res) >= {"control", "alpha", "correction", "srm", "results", "decision", "roles", "quality"}
    assert set(res["srm"]) >= {"p_value", "ok", "counts"}
    assert res["decision"]["verdict"] in ("ship", "no-ship", "inconclusive", "investigate")
    assert res["decision"]["reasons"]
    roles = {r["metric"]: r["role"] for r in res["results"]}
    assert roles["ctr"] == "success" and roles["churn_rate"] == roles["regret_ratio"] == "guardrail"
    assert roles["watch_minutes"] == "secondary"


def test_families_are_corrected_apart(small_table):
    """Success rows: the chosen correction over success metrics and arms only; guardrails
    uncorrected; secondary rows and segment rows: Benjamini-Hochberg, each family on its own."""
    from statsmodels.stats.multitest import multipletests

    roles = Roles(success=("ctr", "play_rate"), secondary=("watch_minutes", "sessions", "completion_rate"))
    rows = analyze(small_table, "popularity", segments=True, roles=roles).results
    fam = lambda f: [r for r in rows if r["family"] == f]  # noqa: E731
    for name, method in (("success", "holm"), ("descriptive", "fdr_bh"), ("segments", "fdr_bh")):
        got = fam(name)
        expect = multipletests([r["p_value"] for r in got], method=method)[1]
        assert [r["p_adjusted"] for r in got] == pytest.approx(list(expect), rel=1e-12)
        assert all(r["significant"] == (r["p_adjusted"] <= 0.05) for r in got)
    assert {r["metric"] for r in fam("success")} == {"ctr", "play_rate"}
    assert all(r["p_adjusted"] == r["p_value"] for r in fam("guardrail"))
    none = analyze(small_table, "popularity", roles=roles, correction="none").results
    assert all(r["p_adjusted"] == r["p_value"] for r in none if r["family"] == "success")


def test_guardrails_and_secondaries_never_dilute_the_success_metric(small_table):
    """The primary's adjusted p is the same whatever the guardrails and secondaries (the old
    rule ran Holm over all nine rows, so a primary at 80% power kept 52%)."""
    alone = Roles(success=("ctr",), guardrails=(), secondary=())
    crowded = Roles(success=("ctr",), guardrails=(Guardrail("churn_rate", 0.1), Guardrail("regret_ratio", 0.1)),
                    secondary=None)
    a = analyze(small_table, "popularity", roles=alone).row("ctr", "hybrid")
    b = analyze(small_table, "popularity", roles=crowded, segments=True).row("ctr", "hybrid")
    assert a["p_adjusted"] == b["p_adjusted"] == a["p_value"]


def test_segments_never_change_the_headline_tests(small_table):
    plain = analyze(small_table, "popularity").results
    with_seg = [r for r in analyze(small_table, "popularity", segments=True).results if r["segment"] == "all"]
    assert [r["p_adjusted"] for r in with_seg] == pytest.approx([r["p_adjusted"] for r in plain])


def test_methods_follow_cuped_and_covariates(small_table):
    with_cuped = {r["metric"]: r for r in analyze(small_table, "popularity").results}
    assert with_cuped["ctr"]["method"] == "delta+cuped"
    assert with_cuped["watch_minutes"]["method"] == "welch+cuped"
    assert with_cuped["time_to_first_play"]["method"] == "welch"     # a mean over users with a play
    assert with_cuped["engagement_efficiency"]["method"] == "bootstrap"
    assert 0 < with_cuped["ctr"]["variance_reduction"] < 1
    plain = {r["metric"]: r for r in analyze(small_table, "popularity", cuped=False).results}
    assert plain["ctr"]["method"] == "delta" and plain["watch_minutes"]["method"] == "welch"
    assert plain["churn_rate"]["method"] == "proportion-z"
    no_pre = small_table[[c for c in small_table.columns if not c.startswith("pre_")]]
    assert {r["method"] for r in analyze(no_pre, "popularity").results} == {"delta", "welch", "proportion-z",
                                                                            "bootstrap"}
    width = lambda r: r["ci_high"] - r["ci_low"]  # noqa: E731
    assert width(with_cuped["ctr"]) < width(plain["ctr"])
    assert width(with_cuped["sessions"]) < width(plain["sessions"])


def test_only_the_columns_in_play_are_required(small_table):
    """A table with just the success metric's and guardrails' columns analyses; a missing
    guardrail column is one line naming it."""
    from recsys.core.errors import InputError

    cols = ["user_id", "arm", "segment", "clicks", "impressions", "churned", "early_abandons", "plays"]
    res = analyze(small_table[cols], "popularity")
    assert {r["metric"] for r in res.results} == {"ctr", "churn_rate", "regret_ratio"}
    with pytest.raises(InputError, match="missing required column: churned"):
        analyze(small_table[[c for c in cols if c != "churned"]], "popularity")


def test_time_to_first_play_counts_only_users_with_a_play(small_table):
    res = analyze(small_table, "popularity", metrics=["time_to_first_play"])
    row = res.row("time_to_first_play", "hybrid")
    c = small_table[small_table.arm == "popularity"]
    assert row["n_control"] == c.time_to_first_play_s.notna().sum()
    assert row["control"] == pytest.approx(c.time_to_first_play_s.mean())


def test_detects_the_planted_ctr_lift(small_table):
    row = analyze(small_table, "popularity").row("ctr", "hybrid")
    assert row["significant"] and row["rel_ci_low"] < 0.08 < row["rel_ci_high"]


def test_three_arms_and_bootstrap_on_request(three_arm_table):
    res = full(three_arm_table, "control", metrics=["watch_minutes"], bootstrap=["sessions"], segments=True)
    assert {r["arm"] for r in res["results"]} == {"a", "b"}
    boot = [r for r in res["results"] if r["metric"] == "sessions"]
    assert boot and all(r["method"] == "bootstrap" for r in boot)
    assert set(res["decision"]["per_arm"]) == {"a", "b"}
    b = next(r for r in res["results"] if r["metric"] == "watch_minutes" and r["arm"] == "b" and r["segment"] == "all")
    assert b["significant"] and b["rel_lift"] > 0.5
    assert {h["metric"] for h in res["heterogeneity"]} >= {"watch_minutes", "ctr"}


def test_srm_forces_investigate_for_every_arm(three_arm_table):
    df = three_arm_table.drop(three_arm_table[three_arm_table.arm == "b"].index[:300])
    res = full(df, "control")
    assert not res["srm"]["ok"]
    assert res["decision"]["verdict"] == "investigate"
    assert {d["verdict"] for d in res["decision"]["per_arm"].values()} == {"investigate"}
    assert res["decision"]["reasons"][0]["test"] == "sample ratio"
    counts = df.arm.value_counts()
    ok = analyze(df, "control", shares={a: counts[a] / len(df) for a in counts.index})
    assert ok.srm.ok


def test_pre_period_imbalance_means_investigate(small_table):
    df = small_table.copy()
    df.loc[df.arm == "hybrid", "pre_sessions"] += 5.0          # a covariate measured after assignment
    res = full(df, "popularity")
    assert not res["quality"]["balance_ok"]
    assert res["decision"]["verdict"] == "investigate"
    assert any(r["test"] == "balance" and r["metric"] == "pre_sessions" for r in res["decision"]["reasons"])


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
    assert a["decision"]["roles"]["guardrails"] == {"churn_rate": {"margin": 0.05, "scale": "relative"}}


def test_cli_prints_the_default_roles(capsys, tmp_path, small_table):
    path = tmp_path / "u.parquet"
    small_table.to_parquet(path, index=False)
    assert main(["analyze", str(path), "--control", "popularity"]) == 0
    out = capsys.readouterr().out
    assert "Roles: success ctr; guardrails churn_rate +10.0%, regret_ratio +10.0%" in out
    assert "(the defaults;" in out


def test_cli_takes_the_roles_from_a_config(capsys, tmp_path, small_table):
    path = tmp_path / "u.parquet"
    small_table.to_parquet(path, index=False)
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[experiment]\ncontrol = "popularity"\nalpha = 0.1\n\n[[arms]]\nname = "popularity"\n'
                   'policy = "popularity"\nshare = 0.5\n\n[[arms]]\nname = "hybrid"\npolicy = "hybrid"\nshare = 0.5\n\n'
                   '[metrics]\nprimary = "watch_minutes"\nsuccess = ["ctr"]\nsecondary = ["sessions"]\n'
                   'guardrails = { churn_rate = 0.2, completion_rate = { margin = -0.01, scale = "absolute" } }\n')
    out = tmp_path / "a.json"
    assert main(["analyze", str(path), "--config", str(cfg), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["control"] == "popularity" and res["alpha"] == 0.1
    assert res["roles"]["success"] == ["watch_minutes", "ctr"]
    assert res["roles"]["guardrails"]["completion_rate"] == {"margin": -0.01, "scale": "absolute"}
    assert {r["metric"] for r in res["results"]} == {"watch_minutes", "ctr", "sessions", "churn_rate",
                                                     "completion_rate"}


def test_cli_power(capsys, tmp_path):
    out = tmp_path / "p.json"
    assert main(["power", "--metric", "churn_rate", "--baseline", "0.1", "--mde", "-0.1", "--relative",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["users_per_arm"] > 1000 and res["mde"] == pytest.approx(-0.01)
    assert "users per arm" in capsys.readouterr().out
    assert main(["power", "--metric", "watch_minutes", "--baseline", "180", "--sd", "300", "--users", "10000"]) == 0
    assert "detectable change" in capsys.readouterr().out


def test_readme_power_example_says_what_it_needs(capsys):
    assert main(["power", "--metric", "ctr", "--baseline", "0.15", "--mde", "0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--sd" in err and "--from users.parquet" in err


def test_cli_power_plans_the_decision_from_a_table(capsys, tmp_path, small_table):
    path = tmp_path / "u.parquet"
    small_table.to_parquet(path, index=False)
    out = tmp_path / "plan.json"
    assert main(["power", "--from", str(path), "--mde", "0.05", "--json", str(out)]) == 0
    plan = json.loads(out.read_text())
    at = plan["at_plan"]
    assert plan["mode"] == "decision" and at["power"] == pytest.approx(0.8, abs=0.01)
    assert set(at["p_non_inferior"]) == {"churn_rate", "regret_ratio"}
    assert plan["users_bonferroni"] > at["users"]                  # the union bound spends more users
    text = capsys.readouterr().out
    assert "users needed for 80% power of the rule" in text
    assert main(["power", "--from", str(path), "--mde", "0.05", "--users", str(at["users"] // 2)]) == 0
    assert "ships with probability" in capsys.readouterr().out
