"""Retention as survival: Kaplan-Meier, log-rank and Cox against statsmodels; the churn_hazard
metric in the analysis, the decision and the daily monitor; its calibration under A/A."""

from __future__ import annotations

import json

import numpy as np
import pytest
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from recsys.core.errors import InputError
from recsys.decision import decide
from recsys.stats.analysis import analyze, monitor
from recsys.stats.roles import Guardrail, Roles
from recsys.stats.survival import cox_binary, hazard_test, kaplan_meier, logrank, loglog_interval
from recsys.stats.synthetic import synthetic_table


def _data(n=2500, seed=0, hr=1.25, horizon=30, continuous=False):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2, n)
    scale = 60.0 / np.where(g == 1, hr, 1.0)
    t = rng.exponential(scale)
    t = t if continuous else np.ceil(t)                       # whole days: many ties
    end = rng.integers(horizon // 2, horizon + 1, n) if continuous else horizon   # staggered censoring
    time = np.minimum(t, end).astype(np.float64)
    event = (t <= end).astype(np.float64)
    return time, event, g, rng.integers(0, 3, n)


@pytest.mark.parametrize("continuous", [False, True])
def test_kaplan_meier_matches_statsmodels(continuous):
    time, event, _, _ = _data(continuous=continuous)
    km = kaplan_meier(time, event)
    ref = SurvfuncRight(time, event)
    np.testing.assert_allclose(km["time"], ref.surv_times)
    np.testing.assert_allclose(km["at_risk"], ref.n_risk)
    np.testing.assert_allclose(km["events"], ref.n_events)
    np.testing.assert_allclose(km["survival"], ref.surv_prob, atol=1e-5, rtol=0)
    np.testing.assert_allclose(km["se"], ref.surv_prob_se, atol=1e-5, rtol=0)


def test_kaplan_meier_interval_and_grid():
    time, event, _, _ = _data(n=800, seed=3)
    km = kaplan_meier(time, event, alpha=0.1)
    s, se = km["survival"].to_numpy(), km["se"].to_numpy()
    z = 1.6448536269514722
    w = z * se / (s * np.log(s))                 # the log-log interval, written out
    np.testing.assert_allclose(km["ci_low"], s ** np.exp(-w))
    np.testing.assert_allclose(km["ci_high"], s ** np.exp(w))
    assert (km["ci_low"] <= km["survival"]).all() and (km["survival"] <= km["ci_high"]).all()
    lo, hi = loglog_interval(np.array([1.0]), np.array([0.0]), 0.05)
    assert lo[0] == hi[0] == 1.0
    grid = kaplan_meier(time, event, grid=np.arange(0, 31))
    assert grid["survival"].iloc[0] == 1.0 and grid["at_risk"].iloc[0] == len(time)
    step = dict(zip(km["time"], km["survival"]))
    for day, sv in zip(grid["time"], grid["survival"]):   # a step function: the last event time at or before
        before = [t for t in step if t <= day]
        assert sv == pytest.approx(step[max(before)] if before else 1.0)
    assert grid["events"].sum() == event.sum()
    assert grid["at_risk"].iloc[5] == (time >= 5).sum()


@pytest.mark.parametrize("continuous", [False, True])
def test_logrank_matches_statsmodels(continuous):
    time, event, g, s = _data(continuous=continuous, seed=1)
    ours = logrank(time, event, g)
    chi2, p = survdiff(time, event, g)
    assert ours.chi2 == pytest.approx(chi2, abs=1e-5) and ours.p_value == pytest.approx(p, abs=1e-5)
    chi2, p = survdiff(time, event, g, strata=s)
    ours = logrank(time, event, g, strata=s)
    assert ours.chi2 == pytest.approx(chi2, abs=1e-5) and ours.p_value == pytest.approx(p, abs=1e-5)
    three = (g + s) % 3
    chi2, p = survdiff(time, event, three)
    ours = logrank(time, event, np.array(["a", "b", "c"], dtype=object)[three])
    assert ours.df == 2 and ours.chi2 == pytest.approx(chi2, abs=1e-5) and ours.p_value == pytest.approx(p, abs=1e-5)
    assert sum(ours.observed) == event.sum() and sum(ours.expected) == pytest.approx(event.sum())


@pytest.mark.parametrize("continuous", [False, True])
def test_cox_matches_statsmodels_efron(continuous):
    time, event, g, s = _data(continuous=continuous, seed=2)
    for strata in (None, s):
        fit = cox_binary(time, event, g, strata=strata)
        ref = PHReg(time, g[:, None].astype(float), status=event, ties="efron", strata=strata).fit()
        assert fit.log_hr == pytest.approx(ref.params[0], abs=1e-5)
        assert fit.se == pytest.approx(ref.bse[0], abs=1e-5)
        assert fit.loglik == pytest.approx(ref.llf, abs=1e-5)
        lo, hi = fit.interval(0.05)
        assert lo < fit.hr < hi and fit.p_value == pytest.approx(ref.pvalues[0], abs=1e-5)


def test_cox_without_events_in_one_arm_is_nan():
    time = np.array([3.0, 5.0, 5.0, 7.0])
    fit = cox_binary(time, np.array([1.0, 0.0, 1.0, 0.0]), np.array([0, 1, 0, 1]))
    assert np.isnan(fit.log_hr) and np.isnan(fit.p_value)
    with pytest.raises(InputError, match="days_observed"):
        kaplan_meier(np.array([0.0, 2.0]), np.array([1.0, 0.0]))
    with pytest.raises(InputError, match="churned"):
        kaplan_meier(np.array([1.0, 2.0]), np.array([1.0, 2.0]))


def test_hazard_test_recovers_a_known_ratio():
    time, event, g, _ = _data(n=40_000, seed=4, hr=1.3, horizon=14)
    h = hazard_test(time[g == 0], event[g == 0], time[g == 1], event[g == 1])
    assert h.hr_ci_low < 1.3 < h.hr_ci_high and h.p_value < 1e-6 and h.logrank_p < 1e-6
    km_c = kaplan_meier(time[g == 0], event[g == 0])
    assert h.churn_control == pytest.approx(1 - km_c["survival"].iloc[-1])


def _roles(margin=0.10):
    return Roles(guardrails=(Guardrail("churn_hazard", margin), Guardrail("regret_ratio", 0.10)))


def test_churn_hazard_as_guardrail_in_analysis_and_decision():
    table = synthetic_table(20_000, ("control", "treatment"), seed=3, effects={"treatment": {"churn_rate": 1.5}},
                            survival=True)
    a = analyze(table, "control", roles=_roles(), segments=True)
    row = a.row("churn_hazard", "treatment")
    h = hazard_test(*(table.loc[table.arm == arm, c].to_numpy() for arm in ("control", "treatment")
                      for c in ("days_observed", "churned")))
    assert row["kind"] == "survival" and row["role"] == "guardrail" and row["method"] == "cox-efron"
    assert row["rel_lift"] == pytest.approx(h.hr - 1) and row["p_value"] == pytest.approx(h.p_value)
    assert row["control"] == pytest.approx(h.churn_control) and row["logrank_p_value"] == pytest.approx(h.logrank_p)
    assert row["deteriorated"] and not row["non_inferior"] and row["ni_bound"] > row["rel_lift"]
    dec = decide(a)
    assert dec.verdict == "no-ship"
    reason = next(r for r in dec.reasons if r.metric == "churn_hazard")
    assert reason.status == "harmed" and reason.test == "deterioration"
    js = json.loads(json.dumps(a.to_dict(), default=float))
    sv = js["survival"]
    assert {c["segment"] for c in sv["curves"]} == {"all", "new", "low_engagement", "regular", "power"}
    assert {t["segment"] for t in sv["tests"]} == {"all", "new", "low_engagement", "regular", "power"}
    curve = [c for c in sv["curves"] if c["segment"] == "all" and c["arm"] == "control"]
    assert [c["day"] for c in curve] == list(range(15)) and curve[0]["survival"] == 1.0
    assert all(c["ci_low"] <= c["survival"] <= c["ci_high"] for c in curve)
    # segment rows exist for the survival metric too, in their own family
    assert {r["segment"] for r in a.results if r["metric"] == "churn_hazard"} == set(a.segments)


def test_churn_hazard_non_inferior_when_unchanged():
    table = synthetic_table(60_000, ("control", "treatment"), seed=8, survival=True)
    a = analyze(table, "control", roles=_roles(margin=0.5))
    row = a.row("churn_hazard", "treatment")
    assert row["non_inferior"] and not row["deteriorated"] and row["ni_bound"] < 0.5
    assert row["ni_bound"] == pytest.approx(np.expm1(row["log_hr"] + 1.6448536269514722 * row["se_log_hr"]))


def test_survival_section_without_the_metric_and_absent_without_columns(small_table):
    t = synthetic_table(3000, ("a", "b"), seed=1, survival=True)
    a = analyze(t, "a", roles=Roles(secondary=("watch_minutes",)))
    assert a.row("churn_hazard", "b") is None and a.survival["tests"][0]["arm"] == "b"
    assert "survival" not in analyze(small_table, "popularity").to_dict()


def test_survival_bad_input():
    t = synthetic_table(2000, ("a", "b"), seed=1, survival=True)
    with pytest.raises(InputError, match="relative"):
        analyze(t, "a", roles=Roles(guardrails=(Guardrail("churn_hazard", 0.01, relative=False),)))
    bad = t.assign(days_observed=t["days_observed"].where(t.index != 5, -1))
    with pytest.raises(InputError, match="days_observed.*row 6"):
        analyze(bad, "a", roles=_roles())
    with pytest.raises(InputError, match="bootstrapped"):
        analyze(t, "a", bootstrap=["churn_hazard"])


def test_monitor_tracks_the_log_hazard_ratio():
    full = synthetic_table(20_000, ("control", "treatment"), seed=5, effects={"treatment": {"churn_rate": 1.6}},
                           survival=True)
    looks = []
    for d in (4, 9, 14):   # cumulative tables: churn after day d not yet seen, follow-up d days
        t = full.copy()
        seen = (t["churned"] == 1) & (t["days_observed"] <= d)
        t["churned"] = seen.astype(int)
        t["days_observed"] = np.where(seen, t["days_observed"], d)
        looks.append(t)
    recs = monitor(looks, "control", _roles(), days=[4, 9, 14])
    hz = [r for r in recs if r["metric"] == "churn_hazard"]
    assert [r["day"] for r in hz] == [4, 9, 14] and all(r["role"] == "guardrail" for r in hz)
    last = analyze(looks[-1], "control", roles=_roles()).row("churn_hazard", "treatment")
    assert hz[-1]["estimate"] == pytest.approx(last["log_hr"])
    assert hz[-1]["ci_low"] < hz[-1]["estimate"] < hz[-1]["ci_high"]
    assert hz[-1]["status"] == "harmed"


@pytest.mark.slow
def test_aa_survival_tests_reject_at_the_nominal_rate():
    """1,000 A/A tables of 4,000 users (about 160 churn events each): the Cox Wald test and the
    log-rank test reject at 5% within a binomial band (measured: see the report)."""
    reps, alpha = 1000, 0.05
    cox, lr, cover = 0, 0, 0
    for r in range(reps):
        t = synthetic_table(4000, ("a", "b"), seed=10_000 + r, survival=True)
        tc, ec = t.loc[t.arm == "a", "days_observed"], t.loc[t.arm == "a", "churned"]
        tt, et = t.loc[t.arm == "b", "days_observed"], t.loc[t.arm == "b", "churned"]
        h = hazard_test(tc, ec, tt, et, alpha)
        cox += h.p_value <= alpha
        lr += h.logrank_p <= alpha
        cover += h.hr_ci_low <= 1.0 <= h.hr_ci_high
    band = 3 * np.sqrt(alpha * (1 - alpha) / reps)
    print(f"A/A survival: Cox rejects {cox / reps:.3f}, log-rank {lr / reps:.3f}, HR interval covers 1 "
          f"{cover / reps:.3f} over {reps} replicates")
    assert abs(cox / reps - alpha) < band and abs(lr / reps - alpha) < band
    assert cover == reps - cox
