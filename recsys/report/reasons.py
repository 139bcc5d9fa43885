"""The decision's reasons in words: one sentence per :class:`~recsys.decision.Reason` record.

The statistics and the decision produce records only; the terminal, the HTML report and any
other view word them here, so a verdict reads the same everywhere. Works on the records as
dicts (the analysis JSON), so a saved analysis renders without recomputation.
"""

from __future__ import annotations

from typing import Mapping

from recsys.core.format import count, interval, level, one_sided_level, pct, pvalue, signed


def _change(r: Mapping) -> str:
    fmt = pct if r.get("scale") == "relative" else signed
    ci = "" if r.get("ci_low") is None else f" {interval(r['ci_low'], r['ci_high'], fmt)}"
    return f"{fmt(r.get('estimate'))}{ci}"


def _margin(r: Mapping) -> str:
    fmt = pct if r.get("scale") == "relative" else signed
    return fmt(r.get("margin"))


def _cmp(p, lvl) -> str:
    if p is None or lvl is None:
        return "n/a"
    return "<=" if p <= lvl else ">"


def reason_text(r: Mapping, *, alpha: float = 0.05, correction: str = "holm") -> str:
    """One reason record as a sentence (without the arm, which the caller prefixes)."""
    test, status, metric = r["test"], r["status"], r.get("metric")
    p, lvl = r.get("p_value"), r.get("level")
    if test == "sample ratio":
        if status == "failed":
            return (f"sample ratio mismatch (chi-squared p = {pvalue(p)} < {lvl:g}): the arms' user counts do not "
                    "fit the configured shares; fix assignment or logging before trusting any comparison")
        return f"sample ratio ok (chi-squared p = {pvalue(p)})"
    if test == "balance":
        return (f"pre-period covariate {metric} differs between the arms (difference {signed(r.get('estimate'))}, "
                f"Bonferroni-adjusted p = {pvalue(p)} < {lvl:g}): assignment or the covariate is broken")
    if test == "heterogeneity":
        if status == "differs":
            return (f"{metric}'s lift differs across segments (Cochran's Q = {r['estimate']:.1f}, p = {pvalue(p)}): "
                    "read the per-segment rows")
        return (f"no evidence that {metric}'s lift differs across segments (Cochran's Q p = {pvalue(p)}): treat "
                "per-segment differences as noise around the overall lift")
    ci_level = level(alpha)
    if r["role"] == "success" and test == "superiority":
        adj = f"{correction}-adjusted p" if correction != "none" else "p"
        head = f"success {metric}: {_change(r)} ({ci_level} CI)"
        if status == "better":
            return f"{head}: significantly better ({adj} = {pvalue(p)} {_cmp(p, lvl)} {lvl:g})"
        if status == "worse":
            return f"{head}: significantly worse ({adj} = {pvalue(p)} {_cmp(p, lvl)} {lvl:g})"
        return f"{head}: not significant ({adj} = {pvalue(p)} > {lvl:g}); the experiment cannot tell it from noise"
    if test == "decay":
        return decay_text(r)
    if test == "deterioration":
        role = "guardrail" if r["role"] == "guardrail" else "success"
        return (f"{role} {metric}: harmed: {_change(r)} ({ci_level} CI), a significant move in the harmful "
                f"direction (one-sided p = {pvalue(p)} <= {lvl:g})")
    if test == "non-inferiority":
        head = f"guardrail {metric} (margin {_margin(r)}): change {_change(r)} ({ci_level} CI)"
        bound = f"the worst plausible change, {pct(r.get('bound')) if r.get('scale') == 'relative' else signed(r.get('bound'))} ({one_sided_level(lvl)})"
        if status == "non-inferior":
            return f"{head}: non-inferior: {bound} is inside the margin (p = {pvalue(p)} <= {lvl:g})"
        need = r.get("users_needed")
        more = (f"; about {count(need)} users in the experiment would rule it out if {metric} did not change"
                if need is not None else "")
        return (f"{head}: inconclusive: {bound} does not rule out the margin (p = {pvalue(p)} > {lvl:g}){more}. "
                "Not shown safe is not the same as harmed")
    return f"{r['role']} {metric}: {test}: {status}"


def _days(span) -> str:
    return f"days {span[0]}-{span[1]}" if span[0] != span[1] else f"day {span[0]}"


def decay_text(r: Mapping) -> str:
    """'ctr lift +12.0% on days 1-3, +3.0% on days 8-14 since first exposure: decaying, p = 0.001'."""
    d = r.get("detail") or {}
    head = (f"{r['metric']} lift {pct(d.get('early'))} on {_days(d.get('early_days', ('?', '?')))}, "
            f"{pct(r.get('estimate'))} {interval(r.get('ci_low'), r.get('ci_high'), pct)} on "
            f"{_days(d.get('late_days', ('?', '?')))} since first exposure")
    p, lvl = r.get("p_value"), r.get("level")
    if r["status"] == "decaying":
        return (f"{head}: decaying, p = {pvalue(p)}; the late lift is the steady-state estimate"
                + ("" if _late_good(r) else ", and it is not significant: the win does not last"))
    if r["status"] == "growing":
        return f"{head}: growing, p = {pvalue(p)}"
    return f"{head}: no evidence that the effect changes (p = {pvalue(p)}{'' if lvl is None else f' > {lvl:g}'})"


def _late_good(r: Mapping) -> bool:
    lo, hi = r.get("ci_low"), r.get("ci_high")
    if lo is None or hi is None:
        return False
    return hi < 0 if (r.get("detail") or {}).get("lower_is_better") else lo > 0


def missing_text(r: Mapping) -> str:
    """What an inconclusive verdict lacks, from one ``missing`` record."""
    if r["test"] == "decay":
        return f"a lasting improvement ({r['metric']} decays: {pct(r.get('estimate'))} on the late days)"
    if r["test"] == "superiority":
        return f"a significant improvement in a success metric ({r['metric']}: {r['status']})"
    need = r.get("users_needed")
    more = f", about {count(need)} users" if need is not None else ""
    return f"non-inferiority of guardrail {r['metric']} (margin {_margin(r)}{more})"


def verdict_text(decision: Mapping) -> str:
    """'SHIP hybrid', 'NO-SHIP', 'INCONCLUSIVE: missing ...' or 'INVESTIGATE'."""
    verdict = decision["verdict"].upper()
    if decision["verdict"] == "ship" and decision.get("arm"):
        return f"{verdict} {decision['arm']}"
    if decision["verdict"] == "inconclusive" and decision.get("missing"):
        return f"{verdict}: missing " + "; ".join(missing_text(m) for m in decision["missing"])
    return verdict


def decision_lines(decision: Mapping, *, alpha: float = 0.05, correction: str = "holm") -> list[str]:
    """The verdict line, then one line per reason (arm-prefixed when there are several arms)."""
    arms = {r.get("arm") for r in decision.get("reasons", []) if r.get("arm") is not None}
    multi = len(arms) > 1
    lines = [f"Decision: {verdict_text(decision)}"]
    for r in decision.get("reasons", []):
        prefix = f"{r['arm']}: " if multi and r.get("arm") else ""
        lines.append(f"  - {prefix}{reason_text(r, alpha=alpha, correction=correction)}")
    return lines
