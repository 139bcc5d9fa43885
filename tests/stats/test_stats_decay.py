"""Novelty and decay: effects by day since first exposure, the early-vs-late test, the steady
state, the completion decay and the decision's decay reason; calibration on synthetic daily
data with a known effect by day (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core.errors import InputError
from recsys.decision import decide
from recsys.report.reasons import decision_lines
from recsys.stats.analysis import analyze
from recsys.stats.roles import Roles
from recsys.stats.decay import Exposure, classify, decay_section, decay_test, effects_by_day
from recsys.stats.synthetic import synthetic_daily

K = np.arange(1, 15)
STEADY = 1.03
#: a novelty bump of +12 points on day 1 fading with a 1.5-day time constant, over a +3% steady lift
NOVELTY = STEADY + 0.12 * np.exp(-(K - 1) / 1.5)


def _per_user(daily: pd.DataFrame) -> pd.DataFrame:
    cols = ["impressions", "clicks", "plays", "completions", "early_abandons", "watch_minutes", "sessions"]
    t = daily.groupby(["user_id", "arm"], as_index=False)[cols].sum()
    return t.assign(segment="all", churned=0, active_days=1)


def test_day_since_first_exposure_is_per_user():
    daily = pd.DataFrame({"user_id": [1, 1, 2, 2, 2], "arm": ["a", "a", "b", "b", "b"], "day": [0, 2, 3, 4, 6],
                          "impressions": [5, 4, 0, 6, 2], "clicks": [1, 2, 0, 3, 1]})
    ex = Exposure.from_daily(daily, ["impressions", "clicks"], last_day=6)
    assert list(ex.first_day) == [0, 4]                 # user 2's day-3 row had no impression
    assert list(ex.observed) == [7, 3]
    assert ex.values["clicks"][0].tolist()[:3] == [1, 0, 2] and ex.values["clicks"][1].tolist()[:3] == [3, 0, 1]


def test_effects_by_day_recover_a_known_decay():
    daily = synthetic_daily(30_000, seed=4, lift={"treatment": NOVELTY})
    recs = effects_by_day(daily, "control", ["ctr"])
    assert [r["day"] for r in recs] == list(range(1, 15))
    covered = [r["rel_ci_low"] <= NOVELTY[r["day"] - 1] - 1 <= r["rel_ci_high"] for r in recs]
    assert sum(covered) >= 12                            # 95% intervals: 13.3 of 14 expected
    assert recs[0]["rel_lift"] > 0.10 and recs[-1]["n_control"] < recs[0]["n_control"]


def test_decay_is_flagged_and_the_steady_state_covers_the_truth():
    daily = synthetic_daily(30_000, seed=5, lift={"treatment": NOVELTY})
    (t,) = decay_test(daily, "control", ["ctr"])
    assert t.status == "decaying" and t.p_value < 1e-6
    assert t.late["rel_ci_low"] <= STEADY - 1 <= t.late["rel_ci_high"]
    assert t.early["rel_lift"] > t.late["rel_lift"] and t.cohort_users == t.early["n_control"] + t.early["n_treatment"]
    assert t.early_days == (1, 3) and t.late_days == (8, 14)


def test_constant_effect_is_stable_and_growing_is_named():
    daily = synthetic_daily(20_000, seed=6, lift={"treatment": [1.05]})
    (t,) = decay_test(daily, "control", ["ctr"])
    assert t.status == "stable" and t.late["rel_ci_low"] <= 0.05 <= t.late["rel_ci_high"]
    grow = synthetic_daily(20_000, seed=7, lift={"treatment": 1.0 + 0.01 * K})
    (g,) = decay_test(grow, "control", ["ctr"])
    assert g.status == "growing"
    assert classify(0.1, -0.05, 0.001, 0.05) == "decaying"      # a reversal fades the win
    assert classify(-0.1, -0.02, 0.001, 0.05) == "decaying"     # change aversion wearing off
    assert classify(0.1, 0.02, 0.2, 0.05) == "stable"


def test_completion_decay_per_arm_and_between_arms():
    fall = np.where(K >= 8, 0.9, 1.0)                            # the treatment's completion falls 10% late
    daily = synthetic_daily(30_000, seed=8, completion_lift={"treatment": fall})
    sec = decay_section(daily, "control", ["ctr"])
    (c,) = sec["completion_decay"]
    assert c["control"]["ci_low"] <= 0 <= c["control"]["ci_high"]
    assert c["treatment"]["ci_low"] <= -0.10 <= c["treatment"]["ci_high"]
    assert c["p_value"] < 1e-4 and c["diff"] < -0.05
    assert [t["metric"] for t in sec["tests"]] == ["ctr", "completion_rate"]
    assert sec["by_day"] and sec["early_days"] == [1, 3]


def test_decay_in_the_analysis_and_the_decision():
    base = np.ones(14)
    base[:3] = [1.25, 1.15, 1.08]                    # a win that is all novelty
    daily = synthetic_daily(30_000, seed=9, lift={"treatment": base})
    a = analyze(_per_user(daily), "control", daily=daily)
    row = a.row("ctr", "treatment")
    assert row["significant"] and row["rel_lift"] > 0    # the 14-day test alone would ship it
    dec = decide(a)
    reason = next(r for r in dec.reasons if r.test == "decay")
    assert reason.status == "decaying" and reason.detail["early_days"] == [1, 3]
    assert reason.detail["early"] > 0.1 and reason.ci_low < 0 < reason.ci_high
    assert dec.verdict != "ship" and any(m.test == "decay" for m in dec.arms[0].missing)
    text = "\n".join(decision_lines(dec.to_dict()))
    assert "ctr lift +" in text and "on days 1-3" in text and "on days 8-14" in text and "decaying, p =" in text
    assert "a lasting improvement" in text
    assert a.to_dict()["decay"]["tests"][0]["steady_state"]["rel_lift"] == reason.estimate


def test_a_lasting_win_that_decays_still_ships():
    daily = synthetic_daily(30_000, seed=10, lift={"treatment": 1.08 + 0.15 * np.exp(-(K - 1) / 1.5)})
    a = analyze(_per_user(daily), "control", daily=daily, roles=Roles(guardrails=()))
    dec = decide(a)
    reason = next(r for r in dec.reasons if r.test == "decay")
    assert reason.status == "decaying" and reason.ci_low > 0
    assert dec.verdict == "ship"


def test_decay_bad_input_and_short_data():
    daily = synthetic_daily(2000, seed=1, days=6)
    with pytest.raises(InputError, match="decay windows"):
        decay_test(daily, "control", early=(3, 1))
    with pytest.raises(InputError, match="late window starts at day 8"):
        decay_test(daily, "control")
    assert "late window starts" in decay_section(daily, "control", ["ctr"])["note"]
    with pytest.raises(InputError, match="daily table lacks"):
        decay_test(daily.drop(columns="clicks"), "control")
    with pytest.raises(InputError, match="unknown control"):
        decay_test(synthetic_daily(2000, seed=1), "nobody")
    with pytest.raises(InputError, match="no daily decomposition"):
        decay_test(synthetic_daily(2000, seed=1), "control", ["churn_rate"])


@pytest.mark.slow
def test_decay_test_calibration():
    """1,000 replicates of 6,000 users: with a constant lift the test flags decay at about alpha;
    with the novelty transient it flags it nearly always and the late (steady-state) interval
    covers the steady lift at about its level (figures in the report)."""
    reps, alpha = 1000, 0.05
    false_flag = flagged = covered = 0
    for r in range(reps):
        const = synthetic_daily(6000, seed=20_000 + r, lift={"treatment": [STEADY]})
        (t,) = decay_test(const, "control", ["ctr"])
        false_flag += t.p_value <= alpha
        nov = synthetic_daily(6000, seed=40_000 + r, lift={"treatment": NOVELTY})
        (t,) = decay_test(nov, "control", ["ctr"])
        flagged += t.status == "decaying"
        covered += t.late["rel_ci_low"] <= STEADY - 1 <= t.late["rel_ci_high"]
    band = 3 * np.sqrt(alpha * (1 - alpha) / reps)
    print(f"decay test over {reps} replicates of 6,000 users: false flags {false_flag / reps:.3f} (constant +3%), "
          f"flagged {flagged / reps:.3f} (novelty), steady state covered {covered / reps:.3f}")
    assert abs(false_flag / reps - alpha) < band
    assert flagged / reps > 0.9
    assert abs(covered / reps - (1 - alpha)) < 3 * np.sqrt(alpha * (1 - alpha) / reps) + 0.01


def test_report_and_terminal_show_decay_survival_and_the_surrogate():
    from recsys.report.experiment import render_report
    from recsys.report.text import render_analysis
    from recsys.stats.synthetic import synthetic_table

    daily = synthetic_daily(8000, seed=11, lift={"treatment": NOVELTY})
    table = synthetic_table(8000, ("control", "treatment"), seed=11, survival=True)
    a = analyze(table, "control", daily=daily)
    js = {**a.to_dict(), "decision": decide(a).to_dict(),
          "surrogate": {"outcome": "lt_watch_minutes", "horizon": 60, "window": 14, "tau2": 0.0004, "experiments": 8,
                        "predictions": [{"arm": "treatment", "estimate": 0.021, "ci_low": -0.02, "ci_high": 0.064,
                                         "log_effect": 0.0208, "se_sampling": 0.01, "se_model": 0.02}]}}
    page = render_report(js)
    for fig in ("survival", "decay"):
        assert f"<figure id='fig-{fig}'>" in page
    assert "<section id='longterm'>" in page and "+2.1%" in page
    decay = page[page.index("<section id='decay'>"):]
    assert "Completion decay" in decay and "days 8-14" in decay
    text = render_analysis(js)
    assert "Retention (time to churn" in text and "hazard ratio" in text
    assert "ctr (treatment): lift +" in text and "on days 8-14" in text
    assert "Long-term prediction (surrogate index of lt_watch_minutes over 60 days" in text
