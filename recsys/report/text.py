"""Plain-text rendering of an analysis (the dict of docs/contracts.md section 3) for the terminal.

Formatting only: every figure shown was computed by recsys.stats and recsys.decision.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from recsys.core.format import count, formatted, interval, level, one_sided_level, pct, pvalue, signed
from recsys.report.reasons import decision_lines


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


FAMILY_NOTES = {
    "success": "success metrics: {correction} across success metrics and arms",
    "guardrail": "guardrails: uncorrected (they decide by their non-inferiority and deterioration tests, below)",
    "descriptive": "secondary and strategic: Benjamini-Hochberg q-values, descriptive (they never decide)",
    "segments": "segment rows: Benjamini-Hochberg q-values within the breakdown, descriptive",
}


def roles_line(result: Mapping) -> str:
    """The roles the analysis ran with, as one line (and whether they were the defaults)."""
    roles = result.get("roles") or {}
    guards = ", ".join(f"{m} {pct(g['margin']) if g['scale'] == 'relative' else signed(g['margin'])}"
                       f"{'' if g['scale'] == 'relative' else ' (absolute)'}"
                       for m, g in (roles.get("guardrails") or {}).items()) or "none"
    secondary = roles.get("secondary")
    sec = "every other metric in the table" if secondary is None else (", ".join(secondary) or "none")
    line = f"Roles: success {', '.join(roles.get('success', []))}; guardrails {guards}; secondary {sec}"
    if result.get("default_roles"):
        line += " (the defaults; set them with --config FILE or --primary/--success/--guardrail/--secondary)"
    return line


def render_analysis(result: Mapping, *, segments: bool = True) -> str:
    """The readable report of an analysis JSON: roles, quality checks, one line per (metric,
    segment, arm), the guardrails' tests, heterogeneity, and the decision with its reasons."""
    alpha = result["alpha"]
    lvl = level(alpha)
    out = [f"A/B analysis: control {result['control']}, alpha {alpha:g}"
           + (f", {result['n_users']:,} users" if "n_users" in result else "")]
    if result.get("roles"):
        out.append(roles_line(result))
    srm = result.get("srm") or {}
    counts = ", ".join(f"{a} {n:,}" for a, n in srm.get("counts", {}).items())
    state = "ok" if srm.get("ok", True) else "MISMATCH"
    quality = result.get("quality") or {}
    bal = quality.get("balance") or []
    bal_state = ("not checked (no pre_* columns)" if not bal else
                 f"ok ({len({b['column'] for b in bal})} pre_* covariates)" if quality.get("balance_ok", True)
                 else "FAILED (" + ", ".join(f"{b['column']} in {b['arm']}" for b in bal if not b["ok"]) + ")")
    out.append(f"Quality: sample ratio {state} (chi-squared p = {pvalue(srm.get('p_value'))}; {counts}); "
               f"pre-period balance {bal_state}")
    out.append("")
    header = ["metric", "role", "segment", "arm", "control", "treatment", "diff", f"rel lift [{lvl} CI]", "p",
              "p adj", "sig", "method"]
    rows = []
    for r in result["results"]:
        if not segments and r["segment"] != "all":
            continue
        rel = f"{pct(r['rel_lift'])} {interval(r['rel_ci_low'], r['rel_ci_high'])}"
        rows.append([r["metric"], r.get("role", ""), r["segment"], r["arm"], formatted(r["control"]), formatted(r["treatment"]),
                     formatted(r["diff"], "{:+.4g}"), rel, pvalue(r["p_value"]), pvalue(r["p_adjusted"]),
                     "*" if r["significant"] else "", r["method"]])
    out.extend(_table(header, rows, right={4, 5, 6, 8, 9}))
    notes = []
    if any(r["method"].endswith("+cuped") for r in result["results"]):
        notes.append("+cuped: diff and lift adjusted for pre-period covariates; control and treatment are raw values")
    if any(r["method"] == "bootstrap" for r in result["results"]):
        notes.append("bootstrap: users resampled with Poisson weights; normal interval from the bootstrap variance")
    notes.append("rel lift: Fieller's interval for treatment / control - 1, which excludes 0 exactly when the "
                 "test of the difference is significant")
    families = [f for f in FAMILY_NOTES if any(r.get("family") == f for r in result["results"]
                                                 if segments or r["segment"] == "all")]
    notes.append(f"p adj (sig = p adj <= {alpha:g}): "
                 + "; ".join(FAMILY_NOTES[f].format(correction=result.get("correction", "holm")) for f in families))
    out.extend(f"  {n}" for n in notes)
    if result.get("strategic"):
        out += ["", render_strategic(result["strategic"])]
    for c in result.get("capping") or []:
        out.append(f"  capped {c['column']} at {c['value']:.4g} ({c['kind']}"
                   + (f" {c['level']:g} of the {c['basis']} distribution" if c.get("level") else "") + "): "
                   + ", ".join(f"{n:,} users in {a}" for a, n in c["capped"].items())
                   + f"; {c['variance_removed']:.1%} of the within-arm variance removed")
    bayes = [r for r in result["results"] if r.get("bayes") and r["segment"] == "all"]
    if bayes:
        opts = result.get("analysis_options") or {}
        prior = opts.get("prior")
        out.append("")
        out.append("Bayesian readout (gbstats' model; prior "
                   + (f"N({prior['mean']:g}, {prior['sd']:g}^2) on the {prior['scale']} lift" if prior else "flat")
                   + f"; {lvl} credible intervals)")
        brows = [[r["metric"], r["arm"], pct(r["bayes"]["rel_lift"]),
                  interval(r["bayes"]["rel_ci_low"], r["bayes"]["rel_ci_high"]),
                  f"{r['bayes']['chance_to_win']:.1%}", pct(r["bayes"]["risk_treatment"], 3, sign=False),
                  pct(r["bayes"]["risk_control"], 3, sign=False)] for r in bayes]
        out.extend(_table(["metric", "arm", "lift", f"{lvl} credible", "chance to beat control",
                           "risk of shipping", "risk of keeping control"], brows, right={2, 3, 4, 5, 6}))
    guards = [r for r in result["results"] if r.get("role") == "guardrail" and r["segment"] == "all"]
    if guards:
        lv = result.get("levels") or {}
        g_lvl, d_lvl = lv.get("guardrail_alpha", 0.05), lv.get("deterioration_alpha", alpha / 2)
        out.append("")
        out.append(f"Guardrails: non-inferiority (one-sided, alpha {g_lvl:g}) and deterioration (one-sided, "
                   f"alpha {d_lvl:g})")
        grows = []
        for r in guards:
            relative = r.get("margin_scale") == "relative"
            fmt = pct if relative else signed
            status = "harmed" if r.get("deteriorated") else "non-inferior" if r.get("non_inferior") else "inconclusive"
            need = count(r["users_needed"]) if status == "inconclusive" and r.get("users_needed") else ""
            grows.append([r["metric"], r["arm"], fmt(r["rel_lift"] if relative else r["diff"]), fmt(r["margin"]),
                          fmt(r["ni_bound"]), pvalue(r["ni_p_value"]), pvalue(r["deterioration_p_value"]), status, need])
        out.extend(_table(["metric", "arm", "change", "margin", f"worst plausible ({one_sided_level(g_lvl)})",
                           "p (NI)", "p (worse)", "status", "users to rule out the margin"], grows,
                          right={2, 3, 4, 5, 6, 8}))
    het = result.get("heterogeneity") or []
    if het:
        out.append("")
        out.append("Does the effect differ across segments? (Cochran's Q on the relative lift)")
        hrows = [[h["metric"], h["arm"], formatted(h["q"], "{:.2f}"), str(h["df"]), pvalue(h["p_value"]),
                  formatted(h["i2"], "{:.0%}"), "yes" if h.get("differs") else "no"] for h in het]
        out.extend(_table(["metric", "arm", "Q", "df", "p", "I^2", "differs"], hrows, right={2, 3, 4, 5}))
    out.extend(long_term_lines(result))
    dec = result.get("decision")
    if dec:
        out.append("")
        out.extend(decision_lines(dec, alpha=alpha, correction=result.get("correction", "holm")))
    return "\n".join(out)


def long_term_lines(result: Mapping) -> list[str]:
    """Retention as survival (hazard ratio, log-rank) and the decay tests, when the analysis has them."""
    out = []
    sv = [t for t in (result.get("survival") or {}).get("tests", []) if t["segment"] == "all"]
    if sv:
        out += ["", "Retention (time to churn; Cox hazard ratio, Efron ties; log-rank test)"]
        rows = [[t["arm"], f"{t['events_control']:,} / {t['n_control']:,}", f"{t['events_treatment']:,} / "
                 f"{t['n_treatment']:,}", pct(t["churn_control"], 2, sign=False), pct(t["churn_treatment"], 2, sign=False),
                 f"{formatted(t['hr'], '{:.3f}')} {interval(t['hr_ci_low'], t['hr_ci_high'], lambda x: formatted(x, '{:.3f}'))}",
                 pvalue(t["p_value"]), pvalue(t["logrank_p"])] for t in sv]
        out += _table(["arm", "churned/users (control)", "churned/users (treatment)", "KM churn control",
                       "KM churn treatment", "hazard ratio [CI]", "Cox p", "log-rank p"], rows,
                      right={1, 2, 3, 4, 5, 6, 7})
    dc = result.get("decay") or {}
    if dc.get("tests"):
        out += ["", "Novelty and decay (lift by day since first exposure; early vs late window on one cohort)"]
        for t in dc["tests"]:
            e, l_ = t["early_days"], t["late_days"]
            out.append(f"  {t['metric']} ({t['arm']}): lift {pct(t['early']['rel_lift'])} on days {e[0]}-{e[1]}, "
                       f"{pct(t['late']['rel_lift'])} {interval(t['late']['rel_ci_low'], t['late']['rel_ci_high'])} "
                       f"on days {l_[0]}-{l_[1]}: {t['status']}, p = {pvalue(t['p_value'])} "
                       f"({t['cohort_users']:,} users)")
        for c in dc.get("completion_decay") or []:
            out.append(f"  completion decay ({c['arm']}): completion rate late vs early {pct(c['control']['estimate'])} "
                       f"in the control, {pct(c['treatment']['estimate'])} in the treatment (p = {pvalue(c['p_value'])})")
    elif dc.get("note"):
        out += ["", f"Novelty and decay: not tested ({dc['note']})"]
    sg = result.get("surrogate")
    if sg:
        out += ["", f"Long-term prediction (surrogate index of {sg['outcome']} over {sg['horizon']} days, from the "
                    f"first {sg['window']} days; a model fitted on {sg['experiments']} long experiments)"]
        for p in sg["predictions"]:
            out.append(f"  {p['arm']}: {pct(p['estimate'])} {interval(p['ci_low'], p['ci_high'])} (interval with the "
                       f"model's error, sd {p['se_model']:.3f}, and sampling, sd {p['se_sampling']:.3f}, on the log scale)")
    return out


def render_strategic(records: list[Mapping]) -> str:
    """The catalog-level strategic metrics (the job's ``strategic``): descriptive, one figure per arm."""
    if not records:
        return ""
    rows = [[r["metric"], r["arm"], formatted(r["control"]), formatted(r["treatment"]), formatted(r["diff"], "{:+.4g}"), pct(r["rel_diff"])]
            for r in records]
    return "\n".join(["Strategic catalog metrics (descriptive; they never decide):"]
                     + _table(["metric", "arm", "control", "treatment", "diff", "relative"], rows, right={2, 3, 4, 5}))


def render_arm_summary(records: list[Mapping]) -> str:
    """The per-arm descriptive figures (the job's ``arm_summary``) as a table."""
    if not records:
        return "Per arm: none"
    cols = [c for c in records[0] if c != "arm"]
    rows = [[str(r["arm"])] + [count(r[c]) if c == "users" else formatted(r[c]) for c in cols] for r in records]
    return "\n".join(["Per arm:"] + _table(["arm", *cols], rows, right=set(range(1, len(cols) + 1))))


def render_power(result: Mapping) -> str:
    """One paragraph for `recsys power`."""
    rel = result.get("mde_relative")
    rel_s = f" ({rel:+.2%} of the baseline)" if rel is not None and np.isfinite(rel) else ""
    sd = f", sd {result['sd']:g}" if result.get("sd") is not None else ""
    lines = [f"{result['metric']} ({result['kind']}, baseline {result['baseline']:g}{sd}); "
             f"alpha {result['alpha']:g}, power {result['power']:.0%}, {result['method']}",
             f"  detectable change: {result['mde']:+.6g}{rel_s}",
             f"  users per arm:     {result['users_per_arm']:,} (total {result['total_users']:,} for 2 arms)"]
    lines += _group_sequential_lines(result.get("group_sequential"), "users per arm")
    return "\n".join(lines)


def _group_sequential_lines(gs: Mapping | None, what: str) -> list[str]:
    if not gs:
        return []
    return [f"  with {len(gs['looks'])} looks ({gs['spending']} spending): {what} x {gs['inflation']:.3f} = "
            f"{gs['users']:,}; z bounds {', '.join(f'{b:.2f}' for b in gs['bounds'])}"]


def render_decision_plan(plan: Mapping) -> str:
    """The decision plan of `recsys power --from`: users needed and what each test contributes."""
    at = plan["at_plan"]
    roles = plan["roles"]
    lv = plan["levels"]
    mdes = ", ".join(f"{m} {pct(v)}" for m, v in plan["mde"].items())
    guards = ", ".join(f"{m} {pct(g['margin']) if g['scale'] == 'relative' else signed(g['margin'])}"
                       for m, g in roles["guardrails"].items()) or "none"
    cuped = [m for m, c in plan["cuped"].items() if c]
    lines = [f"Planning the decision: success {', '.join(roles['success'])} (minimum effects {mdes}); "
             f"guardrails {guards} (unchanged in the plan)",
             f"  levels: success alpha {lv['alpha']:g} ({lv['correction']}), non-inferiority {lv['guardrail_alpha']:g}, "
             f"deterioration {lv['deterioration_alpha']:g}, quality {lv['quality_alpha']:g}; CUPED for "
             f"{', '.join(cuped) or 'no metric'}; pilot of {plan['pilot_users']:,} users"]
    if plan.get("users_given"):
        lines.append(f"  with {at['users']:,} users ({', '.join(f'{a} {n:,}' for a, n in at['users_per_arm'].items())}) "
                     f"the rule ships with probability {at['power']:.1%}")
    else:
        lines.append(f"  users needed for {plan['target_power']:.0%} power of the rule: {at['users']:,} "
                     f"({', '.join(f'{a} {n:,}' for a, n in at['users_per_arm'].items())}); "
                     f"power there {at['power']:.1%}")
        if plan.get("users_bonferroni", -1) > 0:
            lines.append(f"  (the conservative design that splits beta over the tests, Schultzberg et al. 2024: "
                         f"{plan['users_bonferroni']:,} users)")
    lines.append(f"  at that size: a success metric significantly better {at['p_success']:.1%}; "
                 + "; ".join(f"{m} shown non-inferior {p:.1%}" for m, p in at["p_non_inferior"].items())
                 + f"; nothing harmed {at['p_not_harmed']:.1%}; quality checks pass {at['p_quality']:.1%}")
    lines += [f"  note: {n}" for n in plan.get("notes", [])]
    lines += _group_sequential_lines(at.get("group_sequential"), "the success test's users")
    return "\n".join(lines)


def _decimals(se) -> int:
    """Decimals that show an estimate to about a tenth of its standard error."""
    se = np.asarray([x for x in se if x is not None], dtype=np.float64)
    se = se[np.isfinite(se) & (se > 0)]
    return int(np.clip(1 - np.floor(np.log10(se.min())), 0, 8)) if se.size else 4


def _first_days(seq: list[Mapping]) -> list[str]:
    """For each (arm, metric): the first day its monitored status was reached, if ever."""
    out = []
    for key in dict.fromkeys((r["arm"], r["metric"]) for r in seq):
        rows = [r for r in seq if (r["arm"], r["metric"]) == key]
        want = ("better", "worse", "harmed") if rows[0]["role"] == "success" else ("non-inferior", "harmed")
        first = next((r for r in rows if r["status"] in want), None)
        out.append(f"{key[1]} ({key[0]}): " + (f"{first['status']} from day {first['day']}" if first else
                                               f"{rows[-1]['status']} on every day"))
    return out


def render_sequential(seq: list[Mapping], alpha: float, *, daily: bool = True,
                      verdicts: list[Mapping] | None = None) -> str:
    """The always-valid daily monitor (analysis["sequential"]): one line per (day, arm) with each
    monitored metric's estimate, its always-valid interval and status, and the day's verdict by
    the decision rule. With ``daily=False`` only the summary (the first day each status held)."""
    if not seq:
        return "Sequential monitoring: none"
    by_day = {(v["day"], v["arm"]): v["verdict"] for v in verdicts or []}
    first_ship = next((f"day {v['day']} ({v['arm']})" for v in verdicts or [] if v["verdict"] == "ship"), None)
    summary = ("Always-valid monitor (each look's interval covers that day's cumulative effect; may be read "
               "daily): " + "; ".join(_first_days(seq)))
    if verdicts:
        summary += f". The rule would first say ship on {first_ship}" if first_ship else \
            ". The rule never says ship on a daily look"
    if not daily:
        return summary
    metrics = list(dict.fromkeys(r["metric"] for r in seq))
    by = {(r["day"], r["arm"], r["metric"]): r for r in seq}
    fmt = {m: "{:+.%df}" % _decimals([r["se"] for r in seq if r["metric"] == m]) for m in metrics}
    rows = []
    for day, arm in dict.fromkeys((r["day"], r["arm"]) for r in seq):
        cells = [str(day), str(arm)]
        for m in metrics:
            r = by.get((day, arm, m))
            cells.append("" if r is None else
                         f"{formatted(r['estimate'], fmt[m])} [{formatted(r['ci_low'], fmt[m])}, {formatted(r['ci_high'], fmt[m])}] "
                         f"{r['status']}")
        cells.append(by_day.get((day, arm), ""))
        rows.append(cells)
    header = ["day", "arm"] + [f"{m} (always-valid)" for m in metrics] + ["verdict"]
    lines = ["Day by day (cumulative data of the fixed cohort up to each day; differences treatment - control):"]
    lines += _table(header, rows, right={0})
    return "\n".join(lines + [summary])


def render_interleaving(result: Mapping) -> str:
    """An interleaving analysis (:func:`recsys.jobs.interleaving_analysis`) as a short table."""
    a, b = result["first"], result["second"]
    lines = [f"Team-draft interleaving of {a} (A) and {b} (B): {count(result['users'])} users, "
             f"each a unit of the preference test", ""]
    rows = []
    for p in result["preferences"]:
        rows.append([p["credit"], count(p["n"]), count(p["wins_a"]), count(p["wins_b"]), count(p["ties"]),
                     signed(p["delta"], 3), interval(p["ci_low"], p["ci_high"], lambda x: signed(x, 3)),
                     pvalue(p["p_value"]), {"A": a, "B": b}.get(p["winner"], "none")])
    lines += _table(["credit", "users", f"prefer {a}", f"prefer {b}", "ties", "delta",
                     f"{level(result['alpha'])} CI", "p", "winner"], rows, right={1, 2, 3, 4, 5, 7})
    lines += ["", "delta = (users preferring A + ties / 2) / users with credit - 1/2 (> 0: A preferred)"]
    return "\n".join(lines)
