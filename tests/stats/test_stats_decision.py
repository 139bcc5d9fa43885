"""The verdict rules, on hand-built result rows."""

from __future__ import annotations

import pytest

from recsys.decision import Roles, decide, tradeoff_table
from recsys.errors import InputError


def row(metric, rel, lo, hi, sig, lower=False, arm="hybrid", p=0.001):
    c = 0.2
    return {"metric": metric, "segment": "all", "arm": arm, "kind": "ratio", "n_control": 1000, "n_treatment": 1000,
            "control": c, "treatment": c * (1 + rel), "diff": c * rel, "ci_low": c * lo, "ci_high": c * hi,
            "rel_lift": rel, "rel_ci_low": lo, "rel_ci_high": hi, "p_value": p, "p_adjusted": p if sig else 0.5,
            "significant": sig, "method": "delta", "lower_is_better": lower}


def result(*rows, srm_ok=True):
    return {"control": "popularity", "alpha": 0.05, "correction": "holm",
            "srm": {"p_value": 0.4 if srm_ok else 1e-6, "ok": srm_ok, "counts": {"popularity": 1000, "hybrid": 1000}},
            "results": list(rows)}


GOOD_GUARDS = [row("churn_rate", -0.05, -0.08, -0.02, True, lower=True), row("completion_rate", 0.01, -0.005, 0.02, False)]


def test_ship_when_primary_wins_and_guardrails_hold():
    d = decide(result(row("ctr", 0.2, 0.18, 0.22, True), *GOOD_GUARDS))
    assert d.verdict == "ship" and d.arm == "hybrid"
    assert any("ctr" in r and "+20.0%" in r for r in d.reasons)
    assert any("churn_rate" in r and "holds" in r for r in d.reasons)


def test_no_ship_when_a_guardrail_is_breached():
    guards = [row("churn_rate", 0.01, -0.02, 0.04, False, lower=True), GOOD_GUARDS[1]]
    d = decide(result(row("ctr", 0.2, 0.18, 0.22, True), *guards))
    assert d.verdict == "no-ship"
    assert any("churn_rate breached" in r and "+4.0%" in r for r in d.reasons)


def test_completion_guardrail_tolerates_a_small_drop():
    guards = [GOOD_GUARDS[0], row("completion_rate", -0.005, -0.012, 0.002, False)]
    assert decide(result(row("ctr", 0.2, 0.18, 0.22, True), *guards)).verdict == "ship"
    guards = [GOOD_GUARDS[0], row("completion_rate", -0.005, -0.02, 0.01, False)]
    assert decide(result(row("ctr", 0.2, 0.18, 0.22, True), *guards)).verdict == "no-ship"


def test_no_ship_when_primary_significantly_worse():
    d = decide(result(row("ctr", -0.1, -0.12, -0.08, True), *GOOD_GUARDS))
    assert d.verdict == "no-ship" and any("significantly worse" in r for r in d.reasons)


def test_investigate_when_primary_not_significant():
    d = decide(result(row("ctr", 0.01, -0.02, 0.04, False), *GOOD_GUARDS))
    assert d.verdict == "investigate" and any("not significant" in r for r in d.reasons)


def test_srm_always_means_investigate():
    d = decide(result(row("ctr", 0.2, 0.18, 0.22, True), *GOOD_GUARDS, srm_ok=False))
    assert d.verdict == "investigate" and "sample ratio mismatch" in d.reasons[0]


def test_direction_aware_primary():
    roles = Roles(primary="churn_rate", guardrails={})
    down = row("churn_rate", -0.1, -0.15, -0.05, True, lower=True)
    assert decide(result(down), roles).verdict == "ship"
    up = row("churn_rate", 0.1, 0.05, 0.15, True, lower=True)
    assert decide(result(up), roles).verdict == "no-ship"


def test_multi_arm_ships_the_best_passing_arm():
    rows = [row("ctr", 0.1, 0.05, 0.15, True, arm="a"), row("ctr", 0.2, 0.15, 0.25, True, arm="b"),
            row("ctr", 0.3, 0.25, 0.35, True, arm="c"), row("churn_rate", -0.1, -0.2, -0.01, True, lower=True, arm="a"),
            row("churn_rate", -0.1, -0.2, -0.01, True, lower=True, arm="b"),
            row("churn_rate", 0.1, 0.01, 0.2, True, lower=True, arm="c")]
    d = decide(result(*rows), Roles(guardrails={"churn_rate": 0.0}))
    assert d.verdict == "ship" and d.arm == "b"
    assert {a.arm: a.verdict for a in d.arms} == {"a": "ship", "b": "ship", "c": "no-ship"}


def test_tradeoff_table_and_errors():
    res = result(row("ctr", 0.2, 0.18, 0.22, True), *GOOD_GUARDS, row("watch_minutes", -0.03, -0.05, -0.01, True))
    t = tradeoff_table(res)
    assert list(t.metric[:1]) == ["ctr"] and list(t.role[:1]) == ["primary"]
    wm = t.set_index("metric").loc["watch_minutes"]
    assert wm.effect == "worse" and wm.role == "secondary"
    assert t.set_index("metric").loc["churn_rate"].guardrail == "ok"
    with pytest.raises(InputError, match="primary metric sessions"):
        decide(res, Roles(primary="sessions"))
    d = decide(res).to_dict()
    assert d["tradeoffs"][0]["metric"] == "ctr"
    assert any("watch_minutes fell" in r for r in d["reasons"])


def test_secondary_reason_gives_the_adjusted_p_beside_an_unadjusted_ci():
    """A secondary metric's CI can exclude 0 while the corrected test does not: say both."""
    secondary = row("watch_minutes", -0.019, -0.034, -0.003, False)
    d = decide(result(row("ctr", 0.2, 0.18, 0.22, True), *GOOD_GUARDS, secondary))
    reason = next(r for r in d.reasons if r.startswith("secondary watch_minutes"))
    assert "-3.4% to -0.3%" in reason and "not significant" in reason
    assert "after holm correction, adjusted p = 0.5" in reason
