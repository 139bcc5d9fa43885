"""``recsys tune-diversity``: a tiny sweep end to end through the command line, the same results
inline / in processes / on a Dask LocalCluster, bad input (exit 2, nothing written), the config
file, the frontier and the recommendation rule, and experiments/tune_diversity.py run tiny."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.core import parallel
from recsys.cli import main
from recsys.core.config import read_toml
from recsys.core.errors import InputError
from recsys.tune import Grid, TuneConfig, default_config
from recsys.tune.analysis import pareto_front
from recsys.tune.config import REPORTED_METRICS

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = {"all", "new", "low_engagement", "regular", "power"}

TINY = """
[experiment]
seed = 5
users = 1500
days = 3
warmup_days = 14
retrain_every = 2
[world]
titles = 300
[tune]
replicates = 2
objective = "watch_minutes"
guardrails = { ctr = -0.5 }
static_baseline = true
[tune.grid]
diversity = [0, 0.8]
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tune")
    (d / "tiny.toml").write_text(TINY)
    return d


def run_cli(*args) -> int:
    return main(["tune-diversity", *map(str, args), "--quiet"])


@pytest.fixture(scope="module")
def inline_run(tiny):
    out = tiny / "w1"
    assert run_cli(tiny / "tiny.toml", "--out", out, "--json", tiny / "w1.json") == 0
    return out


def test_end_to_end_outputs(inline_run, tiny):
    out = inline_run
    names = {p.name for p in out.iterdir()}
    assert {"sweep.parquet", "sweep.csv", "replicates.parquet", "replicates.csv", "summary.json", "config.toml",
            "frontier.png", "lifts.png", "exposure.png", "report.html"} <= names
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(pd.read_csv(out / "sweep.csv")) == len(table)
    # one row per (variant, arm, segment, metric): 2 variants x 2 arms x 5 segments x 8 metrics
    assert not table.duplicated(["variant", "arm", "segment", "metric"]).any()
    assert set(table["variant"]) == {"retrained", "static"} and set(table["segment"]) == SEGMENTS
    assert set(table["metric"]) == set(REPORTED_METRICS) and set(table["arm"]) == {"diversity=0", "diversity=0.8"}
    assert len(table) == 2 * 2 * 5 * len(REPORTED_METRICS)
    assert (table["replicates"] == 2).all()

    # the means are those of the replicate values; two replicates are too few for an interval
    reps = pd.read_parquet(out / "replicates.parquet")
    assert sorted(reps["replicate"].unique()) == [0, 1]
    g = reps.groupby(["variant", "arm", "segment", "metric"])["value"]
    m = table.set_index(["variant", "arm", "segment", "metric"])
    np.testing.assert_allclose(m["mean"], g.mean().reindex(m.index), rtol=1e-12)
    for c in ("ci_low", "ci_high", "rep_rel_ci_low", "rep_rel_ci_high"):
        assert table[c].isna().all(), c
    assert (table["ci_scale"] == "too few replicates").all()
    retention = reps[reps["metric"] == "retention"].set_index(["variant", "replicate", "arm", "segment"])["value"]
    churn = reps[reps["metric"] == "churn_rate"].set_index(["variant", "replicate", "arm", "segment"])["value"]
    np.testing.assert_allclose(retention, 1 - churn.reindex(retention.index))

    # pooled A/B rows: retention is churn turned around; the control's lift is 0
    t = table[(table["variant"] == "retrained") & (table["arm"] == "diversity=0.8") & (table["segment"] == "all")]
    t = t.set_index("metric")
    assert t.loc["retention", "ab_diff"] == pytest.approx(-t.loc["churn_rate", "ab_diff"])
    assert t.loc["retention", "rel_lift"] == pytest.approx(-t.loc["churn_rate", "ab_diff"] / (1 - t.loc["churn_rate", "ab_control"]))
    assert t.loc["ctr", "lift_source"] == "pooled A/B" and t.loc["homogenization", "lift_source"] == "replicates"
    assert (table.loc[table["arm"] == "diversity=0", "rel_lift"] == 0).all()

    # the summary, the --json copy and the report
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads((tiny / "w1.json").read_text())
    assert set(summary["recommendations"]) == SEGMENTS
    assert summary["control"] == "diversity=0" and summary["objective"] == "watch_minutes"
    assert len(summary["seeds"]) == 2 and summary["seeds"][0] != summary["seeds"][1]
    assert set(summary["homogenization"]["retrain_effect"]) == {"diversity=0", "diversity=0.8"}
    assert summary["replicate_intervals"]["given"] is False and "only 2 replicates" in summary["replicate_intervals"]["warning"]
    page = (out / "report.html").read_text()
    assert "<b>Warning:</b> only 2 replicates" in page
    for chart in ("frontier", "lifts", "exposure"):
        png = (out / f"{chart}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert "data:image/png;base64," + base64.b64encode(png).decode()[:100] in page
    assert TuneConfig.from_dict(read_toml(out / "config.toml")) == TuneConfig.load(tiny / "tiny.toml")


def test_recommendation_follows_the_rule(inline_run):
    table = pd.read_parquet(inline_run / "sweep.parquet")
    summary = json.loads((inline_run / "summary.json").read_text())
    main_rows = table[table["variant"] == "retrained"]
    for seg, rec in summary["recommendations"].items():
        d = main_rows[main_rows["segment"] == seg]
        obj = d[d["metric"] == "watch_minutes"].set_index("arm")["rel_lift"]
        ctr = d[d["metric"] == "ctr"].set_index("arm")["rel_lift"]
        admissible = (ctr >= -0.5) | (ctr.index == "diversity=0")
        assert rec["best"] == obj.idxmax()
        assert rec["recommended"] == obj[admissible].idxmax()
        flags = d.drop_duplicates("arm").set_index("arm")
        assert flags.loc[rec["recommended"], "recommended"]
        wide = d.pivot(index="arm", columns="metric", values="mean")
        front = pareto_front(wide["ctr"].to_numpy(), wide["watch_minutes"].to_numpy())
        assert flags.loc[wide.index, "on_frontier"].to_numpy(bool).tolist() == front.tolist()
        assert rec["interior_optimum"] is False   # a two-point grid has no interior


@pytest.mark.parametrize("how", [("--workers", "2"), ("--workers", "2", "--dask")], ids=["processes", "dask"])
def test_same_results_with_any_executor(inline_run, tiny, how):
    out = tiny / ("w-" + "-".join(h.strip("-") for h in how))
    assert run_cli(tiny / "tiny.toml", "--out", out, *how) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), pd.read_parquet(inline_run / "sweep.parquet"),
                                  check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "replicates.parquet"),
                                  pd.read_parquet(inline_run / "replicates.parquet"), check_exact=True)
    assert (out / "summary.json").read_text() == (inline_run / "summary.json").read_text()


def _bad(capsys, tmp_path, *args, out=None):
    out = out or tmp_path / "out"
    existed = out.exists()
    code = main(["tune-diversity", *map(str, args), "--out", str(out), "--json", str(tmp_path / "s.json"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("recsys: error: ") and "\n" not in err and "Traceback" not in err
    assert out.exists() == existed and not (tmp_path / "s.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary left behind
    return err


def test_bad_inputs(tmp_path, tiny, capsys, monkeypatch):
    cfg = tiny / "tiny.toml"
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    assert "already exists" in _bad(capsys, tmp_path, cfg, out=full)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "already exists" in _bad(capsys, tmp_path, cfg, out=empty)
    afile = tmp_path / "afile"
    afile.write_text("")
    assert "does not exist" in _bad(capsys, tmp_path, cfg, out=afile / "out")
    if os.geteuid() != 0:   # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "not writable" in _bad(capsys, tmp_path, cfg, out=locked / "out")
    assert "empty" in _bad(capsys, tmp_path, cfg, "--grid", "diversity=")
    assert "no weight other than 0" in _bad(capsys, tmp_path, cfg, "--grid", "diversity=0")
    assert "--grid" in _bad(capsys, tmp_path, cfg, "--grid", "sparkle=0,1")
    assert "--replicates" in _bad(capsys, tmp_path, cfg, "--replicates", "0")
    for bad, msg in ((TINY.replace("diversity = [0, 0.8]", "diversity = []"), "tune.grid.diversity is empty"),
                     (TINY.replace("replicates = 2", "replicates = 0"), "tune.replicates must be at least 1"),
                     (TINY + "[[arms]]\nname='x'\npolicy='random'\nshare=1.0\n", "unknown table [arms]"),
                     (TINY.replace("[tune]", "[tune]\nbogus = 1"), "unknown key tune.bogus"),
                     (TINY.replace("seed = 5", "seed = 5\ncontrol = 'x'"), "experiment.control"),
                     (TINY.replace("[tune]", "[tune]\nobjective = 'clicks'").replace('objective = "watch_minutes"', ""),
                      "tune.objective"),
                     (TINY.replace("ctr = -0.5", "dwell = -0.5"), "unknown metric 'dwell'"),
                     (TINY.replace("[tune.grid]", "[tune.params]\ndiversity = 0.2\n[tune.grid]"), "is swept"),
                     (TINY.replace("[tune.grid]", "[tune.params]\nwobble = 1\n[tune.grid]"), "unknown parameter 'wobble'")):
        path = tmp_path / "bad.toml"
        path.write_text(bad)
        assert msg in _bad(capsys, tmp_path, path)
        path.unlink()
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 2)
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in _bad(capsys, tmp_path, cfg, "--scheduler", "tcp://127.0.0.1:9")


def test_config_defaults_grid_and_seeds():
    cfg = default_config()
    assert cfg.control == "diversity=0" and len(cfg.arm_names) == len(cfg.tune.grid.diversity)
    assert TuneConfig.from_dict(read_toml(ROOT / "experiments" / "tune_diversity.toml")).tune.static_baseline
    exp = cfg.experiment_for(cfg.replicate_seeds()[0])
    assert [a.share for a in exp.arms] == pytest.approx([1 / len(exp.arms)] * len(exp.arms))
    assert all(a.params["diversity"] == w for a, w in zip(exp.arms, sorted(cfg.tune.grid.diversity)))
    assert exp.replace(retrain_every=0) == cfg.experiment_for(exp.seed, retrain=False)
    seeds = cfg.replicate_seeds()
    assert seeds == cfg.replace(replicates=cfg.tune.replicates).replicate_seeds() and len(set(seeds)) == len(seeds)
    assert cfg.replace(replicates=cfg.tune.replicates + 2).replicate_seeds()[: len(seeds)] == seeds     # adding replicates keeps the first
    assert cfg.replace(seed=8).replicate_seeds()[0] != seeds[0]
    g = Grid.parse(["diversity=0.6,0,0.3,0.3", "calibration=0.5"])
    pts = g.points()
    assert pts[0] == {"diversity": 0.0, "calibration": 0.0, "longtail": 0.0}
    assert len(pts) == 1 + 3 and g.label(pts[-1]) == "diversity=0.6,calibration=0.5"
    with pytest.raises(InputError, match="weights must be numbers"):
        Grid.parse(["diversity=0,a"])
    with pytest.raises(InputError, match="given twice"):
        Grid.parse(["diversity=0,1", "diversity=0.5"])
    with pytest.raises(InputError, match=">= 0"):
        Grid.parse(["diversity=-1,1"])
    with pytest.raises(InputError, match="static_baseline needs"):
        TuneConfig.from_dict({"experiment": {"retrain_every": 0}, "tune": {"static_baseline": True}})
    # no schedule given: the swept policy's own (the hybrid refits weekly), so a static twin has something to contrast
    assert TuneConfig.from_dict({"tune": {"static_baseline": True}}).experiment.retrain_every == 7


def test_pareto_front_hand_case():
    x = np.array([0.10, 0.12, 0.11, 0.09, 0.12, np.nan])
    y = np.array([0.90, 0.85, 0.88, 0.91, 0.84, 0.99])
    # (0.12, 0.84) is beaten by (0.12, 0.85); NaN is never on the front
    assert pareto_front(x, y).tolist() == [True, True, True, True, False, False]
    assert pareto_front(np.array([1.0, 1.0]), np.array([2.0, 2.0])).tolist() == [True, True]


def test_experiment_script_runs_tiny(tmp_path, tiny):
    out = tmp_path / "script-out"
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "tune_diversity.py"), "--out", str(out),
                           "--config", str(tiny / "tiny.toml"), "--users", "1200", "--days", "2", "--replicates", "1"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replicates"] == 1 and set(summary["recommendations"]) == SEGMENTS
    assert "Recommended weights per segment" in proc.stdout
    assert (out / "report.html").is_file()


# ---------------------------------------------------------------- intervals over replicates, on synthetic replicates

def _replicate(config: TuneConfig, r: int, variant: str = "retrained", shift: float = 0.0):
    """A replicate's per-user table and exposure figures drawn at random (no simulation): low
    churn and coverage, so that raw intervals over few replicates cross their bounds."""
    from recsys.tune.sweep import ReplicateResult

    rng = np.random.default_rng([r, int(shift * 1000)])
    rows = []
    for a, arm in enumerate(config.arm_names):
        for segment in ("new", "power"):
            n = 300
            imp = rng.poisson(40, n) + 1
            clicks = rng.binomial(imp, 0.1 + 0.02 * a + 0.03 * rng.standard_normal())
            plays = rng.binomial(clicks, 0.6)
            done = rng.binomial(plays, 0.4)
            rows.append(pd.DataFrame({
                "arm": arm, "segment": segment, "impressions": imp, "clicks": clicks, "plays": plays,
                "watch_minutes": rng.gamma(2.0, 40.0 * (1 + 0.3 * rng.standard_normal()) ** 2, n),
                "completions": done, "early_abandons": rng.binomial(plays - done, 0.3),
                "sessions": rng.poisson(4, n) + 1, "active_days": rng.integers(1, 4, n),
                "churned": (rng.random(n) < rng.uniform(0.0, 0.03)).astype(int),
                "time_to_first_play_s": np.where(plays > 0, rng.gamma(2.0, 5.0, n), np.nan)}))
    table = pd.concat(rows, ignore_index=True)
    table.insert(0, "user_id", np.arange(len(table)))
    exp = []
    for seg in ("all", "new", "power"):
        for arm in config.arm_names:
            users = int(((table["arm"] == arm) & ((table["segment"] == seg) | (seg == "all"))).sum())
            exp.append({"arm": arm, "segment": seg, "users": users, "plays": 100,
                        "coverage": float(np.clip(0.004 + 0.004 * rng.standard_normal() + shift, 0.0005, 1)),
                        "long_tail_share": float(rng.uniform(0.1, 0.3)),
                        "homogenization": float(rng.uniform(0.01, 0.05) + shift)})
    return ReplicateResult(r, 100 + r, variant, table, pd.DataFrame(exp))


def _analysed(replicates: int, *, static: str | None = None, days: int = 3, retrain_every: int = 2):
    """analyse_sweep on synthetic replicates; ``static``: None, "same" (the same tables as the
    retrained ones) or "different"."""
    from recsys.tune.analysis import analyse_sweep

    text = (TINY.replace("replicates = 2", f"replicates = {replicates}").replace("days = 3", f"days = {days}")
            .replace("retrain_every = 2", f"retrain_every = {retrain_every}")
            .replace("static_baseline = true", f"static_baseline = {str(static is not None).lower()}"))
    cfg = TuneConfig.from_dict(read_toml_text(text))
    results = [_replicate(cfg, r) for r in range(replicates)]
    if static == "same":
        results += [dataclasses.replace(r, variant="static") for r in results]
    elif static == "different":
        results += [_replicate(cfg, r, "static", shift=0.01) for r in range(replicates)]
    return analyse_sweep(cfg.validate(), results)


def read_toml_text(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def test_few_replicates_give_a_warning_and_no_interval():
    from recsys.report.tune import render_text, render_tune_report

    for r in (1, 2):
        res = _analysed(r)
        t = res.table
        assert t[["ci_low", "ci_high", "rep_rel_ci_low", "rep_rel_ci_high"]].isna().all().all()
        assert (t["ci_scale"] == "too few replicates").all()
        warning = res.summary["replicate_intervals"]["warning"]
        assert f"only {r} replicate" in warning and "at least 3" in warning
        text = render_text(res)
        assert text.startswith(f"warning: only {r} replicate")
        page = render_tune_report(res, charts={"frontier": "", "lifts": "", "exposure": ""})
        assert "<b>Warning:</b>" in page
        assert not re.search(r"<span class='muted'>\[", page)            # no interval in the tables of points
    res = _analysed(3)
    assert res.summary["replicate_intervals"] == {**res.summary["replicate_intervals"], "given": True, "warning": None}
    assert not render_text(res).startswith("warning")


def test_intervals_over_replicates_respect_the_bounds():
    """With 3 replicates the raw t interval of a low rate goes below 0 (and a lift below -100%);
    the intervals given stay in [0, 1], watch minutes >= 0, lifts > -100%, and equal the t
    interval on the logit / log / log-ratio scale mapped back."""
    from scipy import stats as st

    res = _analysed(3)
    t, long = res.table, res.replicates
    rates = ["ctr", "completion_rate", "churn_rate", "retention", "coverage", "long_tail_share", "homogenization"]
    r = t[t["metric"].isin(rates) & t["ci_low"].notna()]
    assert len(r) and (r["ci_low"] >= 0).all() and (r["ci_high"] <= 1).all()
    w = t[t["metric"] == "watch_minutes"]
    assert (w["ci_low"] > 0).all() and (w["ci_scale"] == "log").all()
    for c in ("rel_ci_low", "rep_rel_ci_low", "ab_rel_ci_low", "rel_lift", "rep_rel_lift"):
        assert (t[c].dropna() >= -1).all(), c
    at_bound = t[t["rep_rel_ci_low"] == -1]                    # only where a replicate's value was 0
    assert at_bound["rep_rel_ci_scale"].str.startswith("raw, clipped").all()
    # the raw intervals would not have: this data does cross the bounds
    g = long.groupby(["variant", "arm", "segment", "metric"])
    half = st.t.ppf(0.975, 2) * g["value"].std(ddof=1) / np.sqrt(3)
    raw_low = (g["value"].mean() - half)
    assert (raw_low[raw_low.index.get_level_values("metric").isin(rates)] < 0).any()
    rel_half = st.t.ppf(0.975, 2) * g["rel_lift"].std(ddof=1) / np.sqrt(3)
    assert ((g["rel_lift"].mean() - rel_half) < -1).any()
    # a logit-scale interval, by hand
    row = t[(t["metric"] == "coverage") & (t["segment"] == "all") & (t["arm"] == "diversity=0.8")].iloc[0]
    assert row["ci_scale"] == "logit"
    v = long[(long["metric"] == "coverage") & (long["segment"] == "all") & (long["arm"] == "diversity=0.8")]["value"]
    z = np.log(v / (1 - v))
    h = st.t.ppf(0.975, 2) * z.std(ddof=1) / np.sqrt(3)
    expit = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expit(z.mean() - h), expit(z.mean() + h)))


def test_a_rate_on_its_bound_falls_back_to_a_clipped_interval():
    from recsys.tune.analysis import bounded_t_interval

    long = pd.DataFrame({"k": ["a"] * 3 + ["b"] * 3, "value": [0.0, 0.01, 0.02, 0.2, 0.25, 0.3]})
    out = bounded_t_interval(long, ["k"], "value", "logit", 0.95)
    assert out.loc["a", "scale"] == "raw, clipped to [0, 1]" and out.loc["a", "low"] == 0.0
    assert out.loc["b", "scale"] == "logit" and 0 < out.loc["b", "low"] < 0.2 < 0.3 < out.loc["b", "high"] < 1


def test_pooled_relative_interval_below_minus_100_is_taken_on_the_log_ratio_scale():
    from recsys.tune.analysis import bounded_relative

    rows = pd.DataFrame({"rel_lift": [-0.5, 0.1, -1.2], "rel_ci_low": [-1.3, -0.1, -2.0],
                         "rel_ci_high": [0.3, 0.3, -0.4]})
    out = bounded_relative(rows)
    assert list(out["rel_ci_scale"]) == ["log ratio", "delta", "delta, clipped at -100%"]
    half = 0.8 / 0.5                                            # the delta interval's half-width over 1 + lift
    assert out.loc[0, "rel_ci_low"] == pytest.approx(np.expm1(np.log(0.5) - half)) and out.loc[0, "rel_ci_low"] > -1
    assert out.loc[0, "rel_ci_high"] == pytest.approx(np.expm1(np.log(0.5) + half))
    assert out.loc[1, ["rel_ci_low", "rel_ci_high"]].tolist() == [-0.1, 0.3]
    assert out.loc[2, "rel_ci_low"] == -1.0 and out.loc[2, "rel_lift"] == -1.0


def _legend_labels(fig) -> list[str]:
    return [t.get_text() for lg in fig.legends for t in lg.get_texts()]


def test_static_series_is_drawn_only_where_it_can_be_told_apart():
    """A run no longer than the retraining period retrains nothing: the static twin is the same
    run; its line would hide under the retrained one, so it is not drawn, the legend does not
    list it, and the caption says why. When the two differ both are drawn and listed."""
    from recsys.report.tune import exposure_caption, exposure_figure, plt, static_coincides

    same = _analysed(3, static="same", days=3, retrain_every=7)
    fig = exposure_figure(same)
    assert _legend_labels(fig) == ["retrained every 7 days"]
    drawn = [c.get_label() for ax in fig.axes for c in ax.containers]
    assert drawn and set(drawn) == {"retrained every 7 days"}
    plt.close(fig)
    caption = exposure_caption(same)
    assert "not drawn" in caption and "no longer than the retraining period" in caption
    other = _analysed(3, static="different", days=9, retrain_every=2)
    panels, reason = static_coincides(other)
    assert panels and not any(panels.values()) and reason is None
    assert "squares, dashed: without retraining" in exposure_caption(other)


PAIRED = """
[experiment]
seed = 9
users = 700
days = 3
warmup_days = 7
retrain_every = 2
[world]
titles = 300
[tune]
design = "paired"
replicates = 1
objective = "watch_minutes"
guardrails = { ctr = -0.5 }
[tune.grid]
diversity = [0, 0.6, 1.2]
"""


@pytest.fixture(scope="module")
def paired_run():
    from recsys.tune.sweep import replicate_tasks, run_replicate

    cfg = TuneConfig.from_dict(read_toml_text(PAIRED))
    return cfg, run_replicate(replicate_tasks(cfg)[0])


def test_a_paired_replicate_shows_every_user_every_point(paired_run):
    cfg, res = paired_run
    t = res.table
    per_arm = {a: set(d["user_id"]) for a, d in t.groupby("arm")}
    assert set(per_arm) == set(cfg.arm_names)
    assert len({frozenset(s) for s in per_arm.values()}) == 1                     # the same users ...
    assert len(t) == len(cfg.arm_names) * len(per_arm[cfg.control])                 # ... once per point
    # a point's table depends on its weight, the seed and the users only, not on the other points
    from recsys.tune.sweep import replicate_tasks, run_replicate

    two = TuneConfig.from_dict(read_toml_text(PAIRED.replace("[0, 0.6, 1.2]", "[0, 1.2]")))
    assert two.replicate_seeds() == cfg.replicate_seeds()
    small = run_replicate(replicate_tasks(two)[0]).table
    for arm in two.arm_names:
        pd.testing.assert_frame_equal(t[t["arm"] == arm].reset_index(drop=True),
                                      small[small["arm"] == arm].reset_index(drop=True))
    # and the points differ: the weight changes what users watch
    by = t.groupby("arm")["watch_minutes"].sum()
    assert by.nunique() == len(cfg.arm_names)


def test_a_paired_sweep_is_analysed_on_the_same_users(paired_run):
    from recsys.tune.analysis import analyse_sweep

    cfg, res = paired_run
    out = analyse_sweep(cfg, [res])
    ab = out.table[(out.table["arm"] != cfg.control) & out.table["ab_method"].notna()]
    assert set(ab["ab_method"]) == {"paired delta method (same users in both arms)"}
    assert {"all", *set(res.table["segment"])} <= set(ab["segment"])
    ctr = ab[(ab["metric"] == "ctr") & (ab["segment"] == "all")].set_index("arm")
    whole = res.table.groupby("arm")[["clicks", "impressions"]].sum()
    rate = whole["clicks"] / whole["impressions"]
    for arm, row in ctr.iterrows():
        assert row["ab_diff"] == pytest.approx(rate[arm] - rate[cfg.control], rel=1e-9)
        assert row["ab_ci_low"] < row["ab_diff"] < row["ab_ci_high"]
    peaks = out.summary["peaks"]
    assert peaks["design"] == "paired" and "one intercept per user" in peaks["method"]
    assert peaks["segments"]["all"]["users"] == res.table["user_id"].nunique()
    for d in peaks["differences"]:
        both = peaks["segments"][d["a"]]["peak"] and peaks["segments"][d["b"]]["peak"]
        assert np.isfinite(d["p_holm"]) == both and (not both or d["p_holm"] >= d["p_value"])
    # the design is said in the saved config
    assert TuneConfig.from_dict(read_toml_text(cfg.to_toml())).tune.design == "paired"


def test_an_unknown_design_is_refused():
    with pytest.raises(InputError, match="tune.design must be one of randomised, paired"):
        TuneConfig.from_dict(read_toml_text(PAIRED.replace('"paired"', '"crossover"')))


def _peaks(new_w, new_se, power_w, power_se, *, peak=True):
    from statsmodels.stats.multitest import multipletests

    from recsys.tune.analysis import _pair
    from recsys.tune.optimum import Peak

    def mk(w, se):
        return Peak(w, se, w - 2 * se, w + 2 * se, 1.0, -1.0, 0.1, 1e-6 if peak else 0.5, 1000, peak, True, 0.1, 0.0)
    segs = {"all": mk(1.0, 0.05), "new": mk(new_w, new_se), "power": mk(power_w, power_se), "regular": mk(1.2, 0.05)}
    diffs = [_pair(segs, a, b, 0.05) for a, b in (("new", "power"), ("new", "regular"), ("power", "regular"))]
    tested = [d for d in diffs if np.isfinite(d["p_test"])]
    for d, q in zip(tested, multipletests([d["p_test"] for d in tested], method="holm")[1] if tested else []):
        d["p_holm"] = float(q)   # Holm over the tested pairs, as recsys.tune.analysis.peaks does (statsmodels' here)
    for d in diffs:
        d.setdefault("p_holm", float("nan"))
    return {"axis": "diversity", "objective": "watch_minutes", "design": "paired", "method": "m", "alpha": 0.05,
            "segments": {k: v.to_dict() for k, v in segs.items()}, "differences": diffs}


def test_segments_differ_only_when_the_test_of_their_peaks_says_so():
    """The line people read: 'differs' follows the test of the peaks, never the best grid points."""
    from recsys.report.tune import differs_line
    from recsys.tune.analysis import peaks_differ

    same = _peaks(1.35, 0.11, 1.33, 0.05)
    apart = _peaks(1.9, 0.1, 1.2, 0.05)
    flat = _peaks(1.9, 0.1, 1.2, 0.05, peak=False)
    # nominally significant for one pair (p = 0.03) but not after Holm over the three pairs
    borderline = _peaks(1.45, 0.1, 1.2, 0.05)
    p = next(d for d in borderline["differences"] if (d["a"], d["b"]) == ("new", "power"))
    assert p["p_value"] < 0.05 and p["p_holm"] > 0.05
    assert peaks_differ(borderline) is False
    assert peaks_differ(same) is False and peaks_differ(apart) is True and peaks_differ(flat) is False
    assert peaks_differ(None) is None
    assert differs_line({"peaks": same, "optimum_differs_between_segments": False}).startswith(
        "Optimum differs between segments: no (tests of the optima, Holm over 3 pairs; ")
    assert "yes" in differs_line({"peaks": apart, "optimum_differs_between_segments": True})
    assert "not shown" in differs_line({"peaks": flat, "optimum_differs_between_segments": False})
    assert "not tested" in differs_line({"peaks": None, "optimum_differs_between_segments": None})


def test_every_pair_that_differs_is_listed_with_its_direction():
    """The terminal names the most significant pair in the headline and every other pair that
    differs after Holm on an "also" line, each saying which way its optimum lies."""
    from recsys.report.tune import differing_pairs, pair_text

    apart = _peaks(1.9, 0.1, 1.2, 0.05)      # new 1.9, power 1.2, regular 1.2
    hits = differing_pairs({"peaks": apart})
    assert [(d["a"], d["b"]) for d in hits] == [("new", "power"), ("new", "regular")] or \
        [(d["a"], d["b"]) for d in hits] == [("new", "regular"), ("new", "power")]
    assert all(d["p_holm"] < 0.05 for d in hits)
    assert all(pair_text(d).endswith(f"new's optimum lies above {d['b']}'s") for d in hits)
    same = _peaks(1.35, 0.11, 1.33, 0.05)
    assert differing_pairs({"peaks": same}) == [] and "lies" not in pair_text(same["differences"][0])
    assert differing_pairs({"peaks": None}) == []


def test_a_paired_sweep_says_its_design_and_peaks(paired_run, tmp_path):
    from recsys.report.tune import render_text, render_tune_report
    from recsys.tune.analysis import analyse_sweep

    cfg, res = paired_run
    out = analyse_sweep(cfg, [res])
    text = render_text(out)
    assert "Where watch_minutes peaks (within-user quadratic, 95% interval):" in text
    assert "Optimum differs between segments:" in text and out.summary["best_points_differ"] in (True, False)
    page = render_tune_report(out, charts={"frontier": "", "lifts": "", "exposure": ""})
    assert "Paired design: in each replicate every user is shown every grid point" in page
    assert "paired delta method" in page and "Where watch_minutes peaks" in page


def _paired_results(cfg, rng, vertices: dict, n: int = 240):
    """One paired replicate drawn at random: every user under every weight, each segment's
    minutes a concave quadratic in the weight with its own vertex (or, for a callable, that
    relative effect of the weight), the user's level shared."""
    from recsys.tune.sweep import ReplicateResult

    weights = [p["diversity"] for p in cfg.points]
    seg = np.repeat(list(vertices), n)
    level = rng.gamma(2.0, 200.0, len(seg))
    rows = []
    for arm, w in zip(cfg.arm_names, weights):
        effect = np.concatenate([np.full(n, f(w) if callable(f) else 0.05 * (1 - (w - f) ** 2)) for f in vertices.values()])
        y = level * (1 + effect) + rng.normal(0, 12.0, len(seg))
        rows.append(pd.DataFrame({"user_id": np.arange(len(seg)), "arm": arm, "segment": seg,
                                  "watch_minutes": y, "churned": 0}))
    return [ReplicateResult(0, 1, "retrained", pd.concat(rows, ignore_index=True), pd.DataFrame())]


def test_optimum_differs_is_said_at_most_alpha_when_peaks_are_equal():
    """Closed loop: three segments with the same true peak; 'differs' is said in at most about 5%
    of 300 sweeps (3.7% with Holm over the pairs; any pair at p < 0.05 would say it in 11.7%),
    and in most when one segment's peak sits elsewhere."""
    from recsys.tune.analysis import peaks, peaks_differ

    cfg = TuneConfig.from_dict(read_toml_text(PAIRED.replace("[0, 0.6, 1.2]", "[0, 0.5, 1.0, 1.5, 2.0]")))
    rng = np.random.default_rng(21)
    same = [peaks_differ(peaks(cfg, _paired_results(cfg, rng, {"new": 1.0, "regular": 1.0, "power": 1.0}), "retrained"))
            for _ in range(300)]
    assert np.mean(same) <= 0.07, np.mean(same)
    apart = [peaks_differ(peaks(cfg, _paired_results(cfg, rng, {"new": 1.5, "regular": 1.0, "power": 1.0}), "retrained"))
             for _ in range(30)]
    assert np.mean(apart) >= 0.8, np.mean(apart)


def test_a_segment_without_a_peak_differs_only_when_its_slope_at_the_others_peak_says_so():
    """Closed loop for the slope test: a flat segment, or one whose shallow (insignificant)
    curve peaks where the other's does, makes 'differs' at most about 5% of 300 sweeps; a
    segment still rising at the other's peak makes it in most, with the direction said."""
    from recsys.report.tune import differs_line
    from recsys.tune.analysis import peaks, peaks_differ

    cfg = TuneConfig.from_dict(read_toml_text(PAIRED.replace("[0, 0.6, 1.2]", "[0, 0.5, 1.0, 1.5, 2.0]")))
    rng = np.random.default_rng(22)
    null = {"flat": {"power": 1.0, "regular": lambda w: 0.0},
            "shallow": {"power": 1.0, "regular": lambda w: 0.002 * (1 - (w - 1.0) ** 2)}}
    for name, curves in null.items():
        said, tested = [], 0
        for _ in range(300):
            pk = peaks(cfg, _paired_results(cfg, rng, curves), "retrained")
            tested += any(d["test"] == "slope" for d in pk["differences"])
            said.append(peaks_differ(pk))
        assert np.mean(said) <= 0.07, (name, np.mean(said))
        assert tested >= 200, (name, tested)       # most sweeps find power's peak and no peak for regular
    rising = [peaks(cfg, _paired_results(cfg, rng, {"power": 1.0, "regular": lambda w: 0.02 * w}), "retrained")
              for _ in range(30)]
    assert np.mean([peaks_differ(p) for p in rising]) >= 0.8
    line = differs_line({"peaks": rising[0], "optimum_differs_between_segments": peaks_differ(rising[0])})
    assert "regular's slope at power's peak" in line and "regular's optimum lies above it" in line, line
