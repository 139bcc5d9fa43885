"""The decision rule on hand-built result rows: every verdict and guardrail status, and the words."""

from __future__ import annotations

import pytest

from recsys.decision import Reason, Roles, daily_verdicts, decide, rule
from recsys.core.errors import InputError
from recsys.report.reasons import decision_lines, reason_text, verdict_text
from recsys.stats.analysis import Analysis
from recsys.stats.roles import Guardrail, Levels
from recsys.stats.srm import srm_test

ROLES = Roles(success=("ctr",), guardrails=(Guardrail("churn_rate", 0.10),), secondary=("watch_minutes",))


def row(metric, rel, lo, hi, *, role, sig=False, lower=False, arm="hybrid", p=0.001, det=False, ni=None,
        bound=None, need=None):
    c = 0.2
    r = {"metric": metric, "segment": "all", "arm": arm, "kind": "ratio", "n_control": 1000, "n_treatment": 1000,
         "control": c, "treatment": c * (1 + rel), "diff": c * rel, "ci_low": c * lo, "ci_high": c * hi,
         "rel_lift": rel, "rel_ci_low": lo, "rel_ci_high": hi, "p_value": p, "p_adjusted": p if sig else 0.5,
         "significant": sig, "method": "delta", "role": role, "lower_is_better": lower, "se": 0.01}
    if role in ("success", "guardrail"):
        r.update(deterioration_p_value=0.001 if det else 0.6, deteriorated=det)
    if role == "guardrail":
        r.update(margin=0.10, margin_scale="relative", ni_bound=hi if bound is None else bound,
                 ni_p_value=0.01 if ni else 0.3, non_inferior=bool(ni), users_needed=need)
    return r


def analysis(*rows, srm_ok=True, roles=ROLES, balance=()):
    counts = {"popularity": 1000, "hybrid": 1000 if srm_ok else 700}
    arms = ("popularity", *dict.fromkeys(r["arm"] for r in rows))
    if not srm_ok:
        counts = {"popularity": 1000, **{a: 700 for a in arms[1:]}}
    else:
        counts = {a: 1000 for a in arms}
    return Analysis(control="popularity", arms=arms, segments=("all",), n_users=sum(counts.values()), roles=roles,
                    levels=Levels(), srm=srm_test(counts), balance=tuple(balance), results=tuple(rows))


WIN = row("ctr", 0.2, 0.18, 0.22, role="success", sig=True)
SAFE = row("churn_rate", -0.01, -0.05, 0.03, role="guardrail", lower=True, ni=True, bound=0.025)
UNSURE = row("churn_rate", 0.02, -0.05, 0.12, role="guardrail", lower=True, ni=False, bound=0.11, need=123_456)
HARMED = row("churn_rate", 0.15, 0.01, 0.3, role="guardrail", lower=True, det=True, bound=0.27)


def test_ship_needs_a_win_every_guardrail_safe_and_nothing_harmed():
    d = decide(analysis(WIN, SAFE))
    assert d.verdict == "ship" and d.arm == "hybrid"
    statuses = {(r.metric, r.test): r.status for r in d.reasons}
    assert statuses[("ctr", "superiority")] == "better"
    assert statuses[("churn_rate", "non-inferiority")] == "non-inferior"
    assert d.tradeoffs.set_index("metric").loc["churn_rate", "guardrail"] == "non-inferior"


def test_a_guardrail_not_shown_safe_is_inconclusive_not_harmed():
    d = decide(analysis(WIN, UNSURE))
    assert d.verdict == "inconclusive"
    g = d.tradeoffs.set_index("metric").loc["churn_rate"]
    assert g["guardrail"] == "inconclusive" and g["users_needed"] == 123_456
    assert [m.metric for m in d.missing] == ["churn_rate"]
    text = verdict_text(d.to_dict())
    assert text.startswith("INCONCLUSIVE: missing non-inferiority of guardrail churn_rate")
    assert "123,456 users" in text
    line = next(reason_text(r.to_dict()) for r in d.reasons if r.metric == "churn_rate")
    assert "inconclusive" in line and "not the same as harmed" in line and "harmed:" not in line


def test_a_significant_deterioration_is_harmed_and_no_ship():
    d = decide(analysis(WIN, HARMED))
    assert d.verdict == "no-ship"
    r = next(r for r in d.reasons if r.metric == "churn_rate")
    assert r.test == "deterioration" and r.status == "harmed"
    assert "harmed" in reason_text(r.to_dict())


def test_a_significantly_worse_success_metric_is_no_ship():
    worse = row("ctr", -0.1, -0.12, -0.08, role="success", sig=True, det=True)
    d = decide(analysis(worse, SAFE))
    assert d.verdict == "no-ship"
    assert {(r.test, r.status) for r in d.reasons if r.metric == "ctr"} == {("superiority", "worse"),
                                                                            ("deterioration", "harmed")}


def test_no_significant_success_is_inconclusive_and_says_so():
    flat = row("ctr", 0.01, -0.02, 0.04, role="success", sig=False)
    d = decide(analysis(flat, SAFE))
    assert d.verdict == "inconclusive"
    assert d.missing[0].metric == "ctr" and d.missing[0].test == "superiority"
    assert "a significant improvement in a success metric" in verdict_text(d.to_dict())


def test_failed_quality_check_means_investigate_for_every_arm():
    rows = [WIN, SAFE, dict(WIN, arm="other"), dict(SAFE, arm="other")]
    d = decide(analysis(*rows, srm_ok=False))
    assert d.verdict == "investigate"
    assert {a.verdict for a in d.arms} == {"investigate"}
    assert d.to_dict()["per_arm"]["hybrid"]["verdict"] == "investigate"
    assert d.reasons[0].test == "sample ratio" and d.reasons[0].status == "failed"
    bal = ({"column": "pre_sessions", "arm": "hybrid", "diff": 2.0, "p_value": 1e-9, "p_adjusted": 1e-8, "ok": False},)
    d = decide(analysis(WIN, SAFE, balance=bal))
    assert d.verdict == "investigate"
    assert any(r.test == "balance" and r.metric == "pre_sessions" for r in d.reasons)


def test_direction_aware_success_metric():
    roles = Roles(success=("churn_rate",), guardrails=(), secondary=())
    down = row("churn_rate", -0.1, -0.15, -0.05, role="success", sig=True, lower=True)
    assert decide(analysis(down, roles=roles)).verdict == "ship"
    up = row("churn_rate", 0.1, 0.05, 0.15, role="success", sig=True, lower=True, det=True)
    assert decide(analysis(up, roles=roles)).verdict == "no-ship"


def test_multi_arm_ships_the_best_passing_arm():
    rows = [row("ctr", 0.1, 0.05, 0.15, role="success", sig=True, arm="a"),
            row("ctr", 0.2, 0.15, 0.25, role="success", sig=True, arm="b"),
            row("ctr", 0.3, 0.25, 0.35, role="success", sig=True, arm="c"),
            dict(SAFE, arm="a"), dict(SAFE, arm="b"), dict(HARMED, arm="c")]
    d = decide(analysis(*rows))
    assert d.verdict == "ship" and d.arm == "b"
    assert {a.arm: a.verdict for a in d.arms} == {"a": "ship", "b": "ship", "c": "no-ship"}


def test_missing_success_metric_is_an_input_error():
    with pytest.raises(InputError, match="success metric ctr was not analysed"):
        decide(analysis(SAFE))


def test_the_same_words_in_json_text_and_reasons():
    d = decide(analysis(WIN, UNSURE, row("watch_minutes", 0.02, 0.01, 0.03, role="secondary", sig=True)))
    js = d.to_dict()
    assert js["verdict"] == "inconclusive"
    assert {t["guardrail"] for t in js["tradeoffs"] if t["role"] == "guardrail"} == {"inconclusive"}
    assert {t["guardrail"] for t in js["tradeoffs"] if t["role"] != "guardrail"} == {None}
    lines = decision_lines(js)
    assert lines[0].startswith("Decision: INCONCLUSIVE")
    assert all(isinstance(r, dict) and {"metric", "role", "test", "status"} <= set(r) for r in js["reasons"])
    # reasons are records, never pre-written sentences
    assert all(not isinstance(v, str) or len(v) < 40 for r in js["reasons"] for v in r.values())


@pytest.mark.parametrize("better,worse,harmed,safe,quality,expect", [
    (True, False, False, True, False, "ship"),
    (True, False, False, False, False, "inconclusive"),
    (False, False, False, True, False, "inconclusive"),
    (True, False, True, True, False, "no-ship"),
    (True, True, False, True, False, "no-ship"),
    (True, False, False, True, True, "investigate"),
])
def test_rule_table(better, worse, harmed, safe, quality, expect):
    assert rule(better=better, worse=worse, harmed=harmed, all_safe=safe, quality_failed=quality) == expect


def test_daily_verdicts_apply_the_rule_to_each_look():
    recs = [{"day": 0, "arm": "b", "metric": "ctr", "role": "success", "status": "not significant"},
            {"day": 0, "arm": "b", "metric": "churn_rate", "role": "guardrail", "status": "inconclusive"},
            {"day": 1, "arm": "b", "metric": "ctr", "role": "success", "status": "better"},
            {"day": 1, "arm": "b", "metric": "churn_rate", "role": "guardrail", "status": "non-inferior"},
            {"day": 2, "arm": "b", "metric": "ctr", "role": "success", "status": "better"},
            {"day": 2, "arm": "b", "metric": "churn_rate", "role": "guardrail", "status": "harmed"}]
    assert [v["verdict"] for v in daily_verdicts(recs)] == ["inconclusive", "ship", "no-ship"]


def test_reason_record_round_trip():
    r = Reason("b", "ctr", "success", "superiority", "better", 0.1, 0.05, 0.15, p_value=1e-5, level=0.05)
    d = r.to_dict()
    assert d["status"] == "better" and d["estimate"] == 0.1
    assert "significantly better" in reason_text(d)
