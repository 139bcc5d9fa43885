"""The HTML report of an experiment or an analysis: one self-contained page (inline CSS, charts
as data URIs, no script, no network).

Sections appear when their data exists. From an analysis alone (``recsys analyze --report``):
the verdict, the trade-offs, lifts per metric and segment, sequential monitoring if the JSON
has it, sample sizes and the methods. From a run (``recsys ab --report``, ``recsys demo``), the
job's :class:`~recsys.jobs.Evidence` adds daily curves, offline metrics of the arms' models
and catalog exposure, and previews add what users see. This module renders what it is given:
every figure comes from the analysis JSON or the evidence; it computes no statistic and runs no
model.
"""

from __future__ import annotations

import html
import math
from typing import Mapping

import pandas as pd

from recsys.core.format import count, dash, interval, level, missing, num, one_sided_level, pct, pvalue, signed
from recsys.report import charts
from recsys.report.reasons import reason_text, verdict_text

CSS = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d8dee4;--soft:#f6f8fa;--good:#1a7f37;--bad:#cf222e;--warn:#9a6700}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:var(--fg);
 line-height:1.45;background:#fff}
main{max-width:1120px;margin:0 auto;padding:1.5rem 1.2rem 4rem}
h1{font-size:1.7rem;margin:.2rem 0}h2{font-size:1.25rem;margin:2.4rem 0 .6rem;padding-bottom:.3rem;
 border-bottom:1px solid var(--line)}h3{font-size:1rem;margin:1.2rem 0 .4rem}
.sub{color:var(--muted);margin:0 0 1rem}.muted{color:var(--muted)}.small{font-size:.85rem}
nav{font-size:.85rem;margin:.6rem 0 1.2rem;display:flex;flex-wrap:wrap;gap:.3rem .9rem}
nav a{color:#0969da;text-decoration:none}
.verdict{border-radius:10px;padding:1.1rem 1.3rem;margin:1rem 0;border:1px solid}
.verdict .word{font-size:1.9rem;font-weight:700;letter-spacing:.02em}
.verdict .headline{font-size:1.1rem;margin:.3rem 0 .6rem}
.verdict ul{margin:.3rem 0 0;padding-left:1.2rem}.verdict li{margin:.15rem 0}
.ship{background:#dafbe1;border-color:var(--good)}.ship .word{color:var(--good)}
.no-ship{background:#ffebe9;border-color:var(--bad)}.no-ship .word{color:var(--bad)}
.investigate{background:#fff8c5;border-color:var(--warn)}.investigate .word{color:var(--warn)}
.inconclusive{background:#f6f8fa;border-color:#8c959f}.inconclusive .word{color:#57606a}
.cards{display:flex;flex-wrap:wrap;gap:.7rem;margin:.8rem 0}
.card{border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem;min-width:170px;background:#fff}
.card .k{font-size:.75rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:1.3rem;font-weight:600}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;width:100%}
th,td{padding:.35rem .55rem;border-bottom:1px solid #eaeef2;text-align:right;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
th:first-child,td:first-child,td.l,th.l{text-align:left}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;border-radius:999px;padding:0 .5rem;font-size:.75rem;font-weight:600;border:1px solid}
.b-better,.b-ok,.b-non-inferior,.b-ship{color:var(--good);border-color:var(--good);background:#dafbe1}
.b-worse,.b-harmed,.b-mismatch,.b-no-ship{color:var(--bad);border-color:var(--bad);background:#ffebe9}
.b-none,.b-inconclusive,.b-descriptive{color:var(--muted);border-color:#afb8c1;background:var(--soft)}
.b-investigate{color:var(--warn);border-color:var(--warn);background:#fff8c5}
.role{font-size:.72rem;color:var(--muted);display:block}
figure{margin:.6rem 0 1.2rem}figure img.chart{max-width:100%;height:auto;display:block}
figcaption{font-size:.82rem;color:var(--muted);margin-top:.3rem}
.note{background:var(--soft);border-left:3px solid #afb8c1;padding:.5rem .8rem;font-size:.88rem;margin:.6rem 0}
.previews{display:grid;grid-template-columns:1fr;gap:1rem}
.preview{border:1px solid var(--line);border-radius:8px;padding:.6rem;overflow:auto}
.methods dt{font-weight:600;margin-top:.7rem}.methods dd{margin:.2rem 0 0 0}
details summary{cursor:pointer;color:#0969da}pre{background:var(--soft);padding:.8rem;overflow:auto;font-size:.8rem}
@media print{nav{display:none}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""

SECTIONS = (("verdict", "Verdict"), ("tradeoffs", "Trade-offs"), ("lifts", "Lifts"), ("survival", "Retention"),
            ("decay", "Novelty and decay"), ("longterm", "Long term"), ("daily", "Day by day"),
            ("sequential", "Monitoring"), ("samples", "Sample sizes"), ("offline", "Offline metrics"),
            ("exposure", "Catalog exposure"), ("preview", "What users see"), ("methods", "Methods"))


# --- formatting ------------------------------------------------------------------------------

def _e(x) -> str:
    return html.escape(str(x))


def _share(x, digits: int = 1) -> str:
    return dash(pct(x, digits, sign=False))


def _by_se(*se):
    """A formatter showing a difference to about a tenth of its (smallest) standard error."""
    from recsys.report.text import _decimals

    d = _decimals(se)
    return lambda x: "–" if missing(x) else f"{x:+.{d}f}"


def _badge(text: str, kind: str | None = None) -> str:
    return f"<span class='badge b-{_e(kind or text)}'>{_e(text)}</span>"


def _figure(fig_id: str, uri: str, alt: str, caption: str) -> str:
    return (f"<figure id='fig-{fig_id}'><img class='chart' src='{uri}' alt='{_e(alt)}'>"
            f"<figcaption>{caption}</figcaption></figure>")


def _frame_table(df: pd.DataFrame, formats: Mapping[str, callable], headers: Mapping[str, str] | None = None) -> str:
    headers = headers or {}
    head = "".join(f"<th>{_e(headers.get(c, c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{formats[c](v)}</td>" if c in formats else f"<td class='l'>{_e(v)}</td>"
        for c, v in zip(df.columns, row)) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def _tradeoffs(a: dict) -> list[dict]:
    return list(a["decision"].get("tradeoffs") or [])


def _margin_text(t: Mapping) -> str:
    return pct(t["margin"]) if t.get("margin_scale") == "relative" else f"{signed(t['margin'])} (absolute)"


# --- sections --------------------------------------------------------------------------------

def _headline(a: dict) -> str:
    """The verdict in one or two plain sentences, from the decision's records."""
    dec = a["decision"]
    roles = dec.get("roles", {})
    primary = roles.get("primary")
    arm = dec.get("arm") or (a["arms"][1] if len(a.get("arms", [])) > 1 else None)
    rows = [t for t in _tradeoffs(a) if t["arm"] == arm]
    prim = next((t for t in rows if t["metric"] == primary), None)
    lead = {"ship": f"Ship {arm}.", "no-ship": f"Do not ship {arm}.",
            "inconclusive": f"Not enough evidence to ship {arm} or to reject it.",
            "investigate": "Investigate before reading any result."}[dec["verdict"]]
    if dec["verdict"] == "investigate":
        failed = [r for r in dec.get("reasons", []) if r["role"] == "quality" and r["status"] == "failed"]
        return lead + " " + "; ".join(reason_text(r, alpha=a["alpha"]) for r in failed) + "."
    parts = []
    if prim is not None:
        verb = "rose" if (prim["rel_lift"] or 0) > 0 else "fell"
        sure = {"better": "a clear improvement", "worse": "clearly worse",
                "no clear change": "too small to tell from noise"}[prim["effect"]]
        parts.append(f"The primary metric, {primary}, {verb} {pct(prim['rel_lift'])} "
                     f"({level(a['alpha'])} interval {pct(prim['rel_ci_low'])} to {pct(prim['rel_ci_high'])}): {sure}")
    guards = [t for t in rows if t.get("guardrail")]
    harmed = [t for t in guards if t["guardrail"] == "harmed"]
    unsure = [t for t in guards if t["guardrail"] == "inconclusive"]
    for i, g in enumerate(harmed):
        parts.append(f"{'but' if i == 0 else 'and'} the guardrail {g['metric']} was harmed: it moved "
                     f"{pct(g['rel_lift'])} {interval(g['rel_ci_low'], g['rel_ci_high'])}, significantly the wrong way")
    for g in unsure:
        need = f"; about {count(g['users_needed'])} users would settle it" if g.get("users_needed") else ""
        parts.append(f"the guardrail {g['metric']} is not shown safe: its worst plausible change, "
                     f"{pct(g['bound']) if g.get('margin_scale') == 'relative' else signed(g['bound'])}, does not "
                     f"rule out the margin of {_margin_text(g)}{need}")
    if guards and not harmed and not unsure:
        parts.append("every guardrail is shown non-inferior")
    return lead + (" " + "; ".join(parts) + "." if parts else "")


def section_verdict(a: dict, cards: list[tuple[str, str]]) -> str:
    dec = a["decision"]
    v = dec["verdict"]
    reasons = "".join(f"<li>{_e(reason_text(r, alpha=a['alpha'], correction=a.get('correction', 'holm')))}</li>"
                      for r in dec["reasons"])
    per_arm = dec.get("per_arm") or {}
    arms_line = ""
    if len(per_arm) > 1:
        arms_line = "<p class='small'>Per arm: " + "; ".join(
            f"{_e(k)}: {_badge(d['verdict'])}" for k, d in per_arm.items()) + "</p>"
    cards_html = "".join(f"<div class='card'><div class='k'>{_e(k)}</div><div class='v'>{_e(val)}</div></div>"
                         for k, val in cards)
    return (f"<section id='verdict'><div class='verdict {_e(v)}'><div class='word'>{_e(verdict_text(dec))}</div>"
            f"<div class='headline'>{_e(_headline(a))}</div>{arms_line}"
            f"<details open><summary>Why: every test behind the verdict</summary><ul>{reasons}</ul></details></div>"
            f"<div class='cards'>{cards_html}</div></section>")


def section_tradeoffs(a: dict) -> str:
    rows = {(r["metric"], r["arm"]): r for r in a["results"] if r["segment"] == "all"}
    lvl = level(a["alpha"])
    lv = a.get("levels") or {}
    g_alpha = lv.get("guardrail_alpha", 0.05)
    body = []
    for t in _tradeoffs(a):
        r = rows.get((t["metric"], t["arm"]))
        if r is None:
            continue
        fx = _by_se(r.get("se"))
        role = t["role"]
        if role == "guardrail":
            bound = pct(t["bound"]) if t.get("margin_scale") == "relative" else signed(t["bound"])
            need = (f"<span class='role'>about {count(t['users_needed'])} users would rule out the margin</span>"
                    if t.get("users_needed") else "")
            status = (_badge(t["guardrail"]) + f"<span class='role'>margin {_e(_margin_text(t))}; worst plausible "
                      f"{_e(bound)} ({one_sided_level(g_alpha)})</span>{need}")
        elif role == "success":
            status = _badge(t["effect"], {"better": "better", "worse": "worse"}.get(t["effect"], "none"))
        else:
            status = _badge("descriptive") + f"<span class='role'>{_e(t['effect'])}</span>"
        p_label = {"success": f"{a.get('correction', 'holm')}-adjusted", "guardrail": "unadjusted",
                   "secondary": "BH q", "strategic": "BH q"}.get(role, "")
        body.append(
            f"<tr><td>{_e(t['metric'])}<span class='role'>{_e(role)} · {_e(t['good_direction'])} is better"
            f"{' · ' + _e(t['arm']) if len(a['arms']) > 2 else ''}</span></td>"
            f"<td class='num'>{dash(num(r['control']))}</td><td class='num'>{dash(num(r['treatment']))}</td>"
            f"<td class='num'>{fx(r['diff'])}<span class='role'>{interval(r['ci_low'], r['ci_high'], fx)}</span></td>"
            f"<td class='num'>{dash(pct(r['rel_lift']))}<span class='role'>"
            f"{interval(r['rel_ci_low'], r['rel_ci_high'])}</span></td>"
            f"<td class='num'>{dash(pvalue(r['p_adjusted']))}<span class='role'>{_e(p_label)}</span></td>"
            f"<td>{status}</td><td class='l small muted'>{_e(r['method'])}</td></tr>")
    bayes = [r for r in a["results"] if r["segment"] == "all" and r.get("bayes")]
    btable = ""
    if bayes:
        prior = (a.get("analysis_options") or {}).get("prior")
        rows_b = "".join(
            f"<tr><td>{_e(r['metric'])}</td><td class='num'>{dash(pct(r['bayes']['rel_lift']))}<span class='role'>"
            f"{interval(r['bayes']['rel_ci_low'], r['bayes']['rel_ci_high'])}</span></td>"
            f"<td class='num'>{r['bayes']['chance_to_win']:.1%}</td>"
            f"<td class='num'>{dash(pct(r['bayes']['risk_treatment'], 3, sign=False))}</td>"
            f"<td class='num'>{dash(pct(r['bayes']['risk_control'], 3, sign=False))}</td></tr>" for r in bayes)
        btable = ("<h3 id='bayes'>Bayesian readout</h3><p class='muted small'>GrowthBook's model: a normal posterior of "
                  "the lift, prior " + (f"N({prior['mean']:g}, {prior['sd']:g}²) on the {_e(prior['scale'])} lift"
                                        if prior else "flat") + f"; {lvl} credible intervals; risk is the expected "
                  "relative loss of each choice. The verdict reads the tests above.</p>"
                  "<table><tr><th>metric</th><th>relative lift [credible]</th><th>chance to beat control</th>"
                  f"<th>risk of shipping</th><th>risk of keeping control</th></tr>{rows_b}</table>")
    caps = "".join(f"<p class='small muted'>Capped {_e(c['column'])} at {num(c['value'])} ({_e(c['kind'])}"
                   + (f" {c['level']:g} of the {_e(c['basis'])} distribution" if c.get("level") else "") + "): "
                   + ", ".join(f"{n:,} users in {_e(arm)}" for arm, n in c["capped"].items())
                   + f"; {_share(c['variance_removed'])} of the within-arm variance removed.</p>"
                   for c in a.get("capping") or [])
    return (f"<section id='tradeoffs'><h2>Trade-offs: what the win costs</h2>"
            f"<p class='muted small'>All users; treatment minus control with {lvl} intervals (relative: Fieller's "
            "interval, which excludes 0 exactly when the test of the difference is significant). Success metrics "
            f"are tested for superiority with {_e(a.get('correction', 'holm'))} across success metrics and arms; "
            f"guardrails for non-inferiority: the worst plausible change ({one_sided_level(g_alpha)} bound) must lie "
            "inside the margin (non-inferior); when it does not, the guardrail is inconclusive (not shown safe), "
            "and only a significant move the wrong way makes it harmed. Secondary metrics are descriptive "
            "(Benjamini-Hochberg q-values) and never decide.</p>"
            f"<table><tr><th>metric</th><th>control</th><th>treatment</th><th>absolute [{lvl}]</th>"
            f"<th>relative [{lvl}]</th><th>p</th><th>status</th><th class='l'>test</th></tr>{''.join(body)}"
            f"</table>{_strategic_table(a)}{caps}{btable}</section>")


def _strategic_table(a: dict) -> str:
    """The catalog-level strategic metrics the file named (descriptive, one figure per arm)."""
    recs = a.get("strategic") or []
    if not recs:
        return ""
    rows = "".join(
        f"<tr><td>{_e(r['metric'])}{'<span class=role>' + _e(r['arm']) + '</span>' if len(a['arms']) > 2 else ''}"
        f"</td><td class='num'>{dash(num(r['control']))}</td><td class='num'>{dash(num(r['treatment']))}</td>"
        f"<td class='num'>{dash(signed(r['diff']))}</td><td class='num'>{dash(pct(r['rel_diff']))}</td></tr>"
        for r in recs)
    return ("<h3 id='strategic'>Strategic catalog metrics</h3><p class='muted small'>Measured on the catalog "
            "rather than per user (coverage of titles played, the long tail's share of plays, homogenisation "
            "of what users watch): one figure per arm, descriptive, no interval; they never decide.</p>"
            "<table><tr><th>metric</th><th>control</th><th>treatment</th><th>difference</th><th>relative</th></tr>"
            f"{rows}</table>")


def section_lifts(a: dict) -> str:
    roles = a["decision"].get("roles", {})
    order = {r["metric"]: i for i, r in enumerate(_tradeoffs(a))}
    all_rows = sorted([r for r in a["results"] if r["segment"] == "all"],
                      key=lambda r: (order.get(r["metric"], 99), r["arm"]))
    margins = {m: g["margin"] for m, g in (roles.get("guardrails") or {}).items() if g["scale"] == "relative"}
    seg_metrics = [m for m in dict.fromkeys([*roles.get("success", []), *(roles.get("guardrails") or {}),
                                             *(roles.get("secondary") or [])]) if m]
    segs = a.get("segments", ["all"])
    out = ["<section id='lifts'><h2>Lifts per metric and per segment</h2>",
           _figure("forest-metrics", charts.forest_metrics(all_rows, margins, "Relative lift per metric, all users",
                                                           level(a["alpha"])),
                   "forest plot of relative lifts per metric",
                   "Dot: relative lift; bar: its interval. Green: significantly better (after the metric's "
                   "family correction); red: significantly worse; grey: no clear change. Dotted red: a guardrail's "
                   "non-inferiority margin.")]
    if len(segs) > 1:
        out.append(_figure("forest-segments", charts.forest_segments(a["results"], seg_metrics, segs,
                                                                     "Relative lift per segment"),
                           "forest plots of relative lifts per segment",
                           "The same lifts within each engagement segment (segment at assignment). Segments are "
                           "smaller, so their intervals are wider: read them against the test below, not one by "
                           "one; the segment breakdown is descriptive and never changes the verdict."))
    het = a.get("heterogeneity") or []
    if het:
        rows = "".join(f"<tr><td>{_e(h['metric'])}</td><td class='l'>{_e(h['arm'])}</td>"
                       f"<td class='num'>{dash(num(h['q'], 3))}</td><td class='num'>{h['df']}</td>"
                       f"<td class='num'>{dash(pvalue(h['p_value']))}</td>"
                       f"<td class='num'>{_share(h['i2'], 0)}</td><td>{'yes' if h.get('differs') else 'no'}</td></tr>"
                       for h in het)
        out.append("<h3>Does the effect differ across segments?</h3><table><tr><th>metric</th><th class='l'>arm</th>"
                   "<th>Cochran's Q</th><th>df</th><th>p</th><th>I²</th><th>differs (p &lt; 0.05)</th></tr>"
                   f"{rows}</table>")
    out.append("</section>")
    return "".join(out)


def section_survival(a: dict) -> str:
    """Kaplan-Meier curves per arm and segment, and each arm's hazard ratio with the log-rank test."""
    sv = a.get("survival") or {}
    if not sv.get("curves"):
        return ""
    lvl = level(sv.get("alpha", a["alpha"]))
    fig = _figure("survival", charts.survival_chart(sv["curves"], a["arms"], lvl), "Kaplan-Meier curves per arm",
                  f"Share of each arm's users still subscribed (Kaplan-Meier; a user observed to the end without "
                  f"lapsing is censored there), with pointwise {lvl} log-log bands; all users, then each segment.")
    rows = "".join(
        f"<tr><td>{_e(t['segment'])}</td><td class='l'>{_e(t['arm'])}</td>"
        f"<td class='num'>{t['events_control']:,} / {t['n_control']:,}</td>"
        f"<td class='num'>{t['events_treatment']:,} / {t['n_treatment']:,}</td>"
        f"<td class='num'>{_share(t['churn_control'], 2)}</td><td class='num'>{_share(t['churn_treatment'], 2)}</td>"
        f"<td class='num'>{dash(num(t['hr'], 3))}<span class='role'>"
        f"{interval(t['hr_ci_low'], t['hr_ci_high'], lambda x: dash(num(x, 3)))}</span></td>"
        f"<td class='num'>{dash(pvalue(t['p_value']))}</td><td class='num'>{dash(pvalue(t['logrank_p']))}</td></tr>"
        for t in sv.get("tests", []))
    return ("<section id='survival'><h2>Retention: time to churn</h2>" + fig
            + "<table><tr><th>segment</th><th class='l'>arm</th><th>churned / users (control)</th>"
              "<th>churned / users (treatment)</th><th>churned by the end, control (KM)</th>"
              "<th>treatment (KM)</th><th>hazard ratio [" + lvl + "]</th><th>Cox p</th><th>log-rank p</th></tr>"
            + rows + "</table><p class='small muted'>Hazard ratio: the treatment's daily risk of lapsing relative "
              "to the control's, from a Cox model (Efron's ties; Wald interval); below 1 the treatment keeps users "
              "longer. The log-rank test asks the same question without the proportional-hazards model. "
              "Segment rows are descriptive. As a metric, <code>churn_hazard</code> puts this test in a role "
              "(a guardrail margin of +10% means HR &le; 1.10).</p></section>")


def section_decay(a: dict) -> str:
    """Effects by day since first exposure, the early-vs-late tests and the completion decay."""
    dc = a.get("decay") or {}
    tests = dc.get("tests") or []
    if not tests:
        return ("<section id='decay'><h2>Novelty and decay</h2><p class='muted'>Not tested: "
                f"{_e(dc['note'])}.</p></section>") if dc.get("note") else ""
    lvl = level(dc.get("alpha", a["alpha"]))
    e, l_ = dc["early_days"], dc["late_days"]
    fig = _figure("decay", charts.decay_chart(dc["by_day"], tests, lvl), "lift by day since first exposure",
                  f"Dots: the relative lift on each day since the user's first exposure, over the users seen that "
                  f"day, with its {lvl} interval. Shaded: the early (days {e[0]}-{e[1]}) and late (days "
                  f"{l_[0]}-{l_[1]}) windows; lines and bands: each window's lift on the cohort observed through "
                  "the whole late window. The late lift is the steady-state estimate.")
    rows = "".join(
        f"<tr><td>{_e(t['metric'])}</td><td class='l'>{_e(t['arm'])}</td>"
        f"<td class='num'>{dash(pct(t['early']['rel_lift']))}<span class='role'>"
        f"{interval(t['early']['rel_ci_low'], t['early']['rel_ci_high'])}</span></td>"
        f"<td class='num'>{dash(pct(t['late']['rel_lift']))}<span class='role'>"
        f"{interval(t['late']['rel_ci_low'], t['late']['rel_ci_high'])}</span></td>"
        f"<td class='num'>{dash(pvalue(t['p_value']))}</td>"
        f"<td>{_badge(t['status'], {'decaying': 'harmed', 'growing': 'better'}.get(t['status'], 'none'))}</td>"
        f"<td class='num'>{t['cohort_users']:,}</td></tr>" for t in tests)
    comp = dc.get("completion_decay") or []
    comp_html = ""
    if comp:
        crow = "".join(
            f"<tr><td class='l'>{_e(c['arm'])}</td>"
            f"<td class='num'>{dash(pct(c['control']['estimate']))}<span class='role'>"
            f"{interval(c['control']['ci_low'], c['control']['ci_high'])}</span></td>"
            f"<td class='num'>{dash(pct(c['treatment']['estimate']))}<span class='role'>"
            f"{interval(c['treatment']['ci_low'], c['treatment']['ci_high'])}</span></td>"
            f"<td class='num'>{dash(pvalue(c['p_value']))}</td></tr>" for c in comp)
        comp_html = ("<h3>Completion decay</h3><p class='small muted'>The change in completion rate from the early "
                     "to the late window within each arm (how much less of what users start they finish as the "
                     "novelty wears off), and the test that the two arms' changes are equal.</p>"
                     "<table><tr><th class='l'>arm</th><th>control's change</th><th>treatment's change</th>"
                     f"<th>p (equal)</th></tr>{crow}</table>")
    return ("<section id='decay'><h2>Novelty and decay: the effect by day since first exposure</h2>" + fig
            + "<table><tr><th>metric</th><th class='l'>arm</th>"
              f"<th>early lift (days {e[0]}-{e[1]}) [{lvl}]</th><th>late lift (days {l_[0]}-{l_[1]}) [{lvl}]</th>"
              "<th>p (early = late)</th><th>status</th><th>cohort users</th></tr>" + rows + "</table>"
            + "<p class='small muted'>The test compares the two windows' lifts on the same users (the log of the "
              "ratio of the treatment's to the control's late/early change, with a delta-method variance over "
              "users). Decaying: the late effect is significantly nearer zero than the early one, or reversed. A "
              "success metric whose win decays to an interval that includes zero no longer carries a ship.</p>"
            + comp_html + "</section>")


def section_longterm(a: dict) -> str:
    """The surrogate index's prediction of the long-term effect, when a model was given."""
    sg = a.get("surrogate")
    if not sg:
        return ""
    lvl = level(a["alpha"])
    rows = "".join(f"<tr><td class='l'>{_e(p['arm'])}</td><td class='num'>{dash(pct(p['estimate']))}<span "
                   f"class='role'>{interval(p['ci_low'], p['ci_high'])}</span></td>"
                   f"<td class='num'>{p['se_sampling']:.3f}</td><td class='num'>{p['se_model']:.3f}</td></tr>"
                   for p in sg["predictions"])
    return (f"<section id='longterm'><h2>Long term: the surrogate index</h2><p>Predicted effect on "
            f"<code>{_e(sg['outcome'])}</code> over {sg['horizon']} days, from the first {sg['window']} days' "
            f"per-user metrics, by a model fitted on {sg['experiments']} long experiments (Athey, Chetty, Imbens and "
            "Kang 2019).</p><table><tr><th class='l'>arm</th><th>predicted relative effect [" + lvl + "]</th>"
            "<th>sampling sd (log)</th><th>model error sd (log)</th></tr>" + rows + "</table><p class='small muted'>"
            "The interval adds the model's error, estimated by predicting each of the bank's experiments with a "
            "model fitted without it and comparing with its measured long-term effect. It is a prediction, not a "
            "test: it does not enter the verdict.</p></section>")


def section_daily(ev) -> str:
    note = "" if ev.churn_exact else ("Churn day approximated by the user's last visit (the runner keeps no "
                                      "exact day): the curve is a lower bound early on.")
    at_risk = ev.survival.groupby("arm", sort=False)["at_risk"].first()
    cap = ("Left: clicks per impression each day. Middle: minutes watched that day per user who visited that day. "
           "Right: share of each arm's users still subscribed at the end of each day, among the "
           + ", ".join(f"{n:,} {_e(a)}" for a, n in at_risk.items()) + " users not lapsed before day 0. " + _e(note))
    counts = ["users", "active_users", "sessions", "impressions", "clicks", "plays"]
    fmt = {**{c: "{:,}".format for c in counts}, "day": str, "ctr": lambda x: dash(num(x)),
           "watch_minutes": lambda x: f"{x:,.0f}", "watch_min_per_active_user": lambda x: dash(num(x))}
    cols = ["arm", "day", *counts[:5], "ctr", "plays", "watch_minutes", "watch_min_per_active_user"]
    return ("<section id='daily'><h2>Day by day</h2>"
            + _figure("daily", charts.daily_panels(ev.daily, ev.survival, ev.arms), "daily curves per arm", cap)
            + "<details><summary>Daily numbers</summary>" + _frame_table(ev.daily[cols], fmt)
            + "</details></section>")


def section_sequential(a: dict) -> str:
    seq = a.get("sequential") or []
    if not seq:
        return ""
    df = pd.DataFrame(seq)
    lvl = level(a["alpha"])
    final = {(r["arm"], r["metric"]): (_log_hr(r) if r.get("kind") == "survival" else r)
             for r in a["results"] if r["segment"] == "all"}
    fig = _figure("sequential", charts.sequential_chart(df, final, a["alpha"]), "always-valid intervals over days",
                  "Blue band: each day's always-valid interval for the effect accumulated up to that day (the cohort "
                  "is fixed at assignment, so the estimand grows day by day; each band covers its own day's). Grey "
                  f"bars: the ordinary {lvl} interval of the same day, valid only if looked at once. Rings: the days "
                  "a status was reached. Black square: the final analysis (with CUPED where available).")
    verdicts = a.get("sequential_decision") or []
    days = sorted({r["day"] for r in seq})
    arms = list(dict.fromkeys(r["arm"] for r in seq))
    metrics = list(dict.fromkeys(r["metric"] for r in seq))
    by = {(r["day"], r["arm"], r["metric"]): r for r in seq}
    vby = {(v["day"], v["arm"]): v["verdict"] for v in verdicts}
    rows = []
    for arm in arms:
        for d in days:
            cells = "".join(f"<td>{_badge(by[(d, arm, m)]['status'], _status_kind(by[(d, arm, m)]['status']))}</td>"
                            if (d, arm, m) in by else "<td></td>" for m in metrics)
            v = vby.get((d, arm))
            rows.append(f"<tr><td>{d}</td><td class='l'>{_e(arm)}</td>{cells}"
                        f"<td>{_badge(v) if v else ''}</td></tr>")
    head = "".join(f"<th>{_e(m)}<span class='role'>{_e(by[(days[0], arms[0], m)]['role'])}</span></th>"
                   for m in metrics if (days[0], arms[0], m) in by)
    return ("<section id='sequential'><h2>Monitoring day by day (always-valid)</h2>"
            "<p class='small muted'>Peeking at an ordinary p-value every day and stopping at the first p &lt; 0.05 "
            "raises the false-alarm rate well above 5%. Each day below applies the decision rule to always-valid "
            "tests (a mixture sequential probability ratio test on the cumulative per-user table of that day), so "
            "it may be read daily.</p>" + fig
            + f"<table><tr><th>day</th><th class='l'>arm</th>{head}<th>verdict that day</th></tr>{''.join(rows)}"
            "</table></section>")


def _log_hr(r: Mapping) -> dict:
    """A survival row on the monitor's scale: the log hazard ratio and its interval."""
    def log1p(x):
        return None if x is None or x <= -1 else math.log1p(x)
    return {"diff": r.get("log_hr"), "ci_low": log1p(r.get("rel_ci_low")), "ci_high": log1p(r.get("rel_ci_high")),
            "method": "cox, log HR"}


def _status_kind(status: str) -> str:
    return {"not significant": "none"}.get(status, status)


def section_samples(a: dict) -> str:
    srm = a["srm"]
    ok = srm.get("ok", True)
    expected = srm.get("expected") or {}
    arms = list(srm.get("counts", {}))
    state = _badge("ok") if ok else _badge("mismatch")
    quality = a.get("quality") or {}
    balance = quality.get("balance") or []
    bal = ""
    if balance:
        bad = [b for b in balance if not b["ok"]]
        bal = (f"<p>Pre-period balance {_badge('ok') if not bad else _badge('mismatch')}: "
               f"{len({b['column'] for b in balance})} pre_* covariates compared between each arm and the control "
               f"(Welch, Bonferroni-adjusted, mismatch when p &lt; {(a.get('levels') or {}).get('quality_alpha', 0.001):g})"
               + ("; differing: " + ", ".join(f"{_e(b['column'])} ({_e(b['arm'])}, p = {pvalue(b['p_adjusted'])})"
                                              for b in bad) if bad else "") + ".</p>")
    table = ""
    if a.get("samples"):
        df = pd.DataFrame(a["samples"])
        fmt = {c: "{:,}".format for c in arms}
        fmt.update({"users": "{:,}".format, "srm_p": lambda x: dash(pvalue(x)),
                    "srm_ok": lambda x: "ok" if x else "MISMATCH"})
        table = (_frame_table(df, fmt, {"srm_p": "SRM p", "srm_ok": "SRM"})
                 + "<p class='small muted'>Per-segment rows repeat the check within each segment (segment fixed at "
                   "assignment): a mismatch confined to one segment points at logging or eligibility there.</p>")
    return ("<section id='samples'><h2>Sample ratio, balance and sample sizes</h2>"
            f"<p>Sample-ratio check {state}: chi-squared p = {pvalue(srm['p_value'])} "
            f"(mismatch when p &lt; {(a.get('levels') or {}).get('quality_alpha', 0.001):g}). Users: "
            + ", ".join(f"{_e(k)} {v:,} (expected {expected.get(k, float('nan')):,.0f})"
                        for k, v in srm["counts"].items())
            + ".</p>" + bal + table + "</section>")


def section_offline(ev) -> str:
    if ev.offline is None:
        return (f"<section id='offline'><h2>Offline metrics</h2><p class='muted'>Not computed: "
                f"{_e(ev.offline_note)}.</p></section>")
    df = ev.offline[["arm", "ndcg", "precision", "recall", "map", "coverage", "ild", "novelty", "longtail"]]
    f3 = lambda x: dash(num(x, 3))  # noqa: E731
    return ("<section id='offline'><h2>Offline metrics of the arms' models</h2>"
            + _frame_table(df, {c: f3 for c in df.columns if c != "arm"},
                           {"ndcg": "NDCG@10", "precision": "precision@10", "recall": "recall@10", "map": "MAP@10",
                            "coverage": "coverage", "ild": "ILD", "novelty": "novelty (bits)",
                            "longtail": "long-tail share"})
            + f"<p class='small muted'>{_e(ev.offline_note)}. Each arm's scorer and re-rankers as configured. "
              "NDCG: ranking quality against the held-out plays; coverage: share of the catalog recommended to "
              "anyone; ILD: mean genre distance within a list; novelty: mean self-information of recommended "
              "titles. Offline accuracy on logs collected under another policy favours what that policy showed; "
              "the A/B above is the arbiter.</p></section>")


def section_exposure(ev) -> str:
    chart = charts.exposure_chart(ev.genre_share, ev.exposure, ev.arms)
    f = _figure("exposure", chart, "catalog exposure per arm",
                "Left: how each arm's plays spread over genres. Right: long-tail share (plays of titles outside the "
                "20% most played in the warm-up) and coverage (share of the catalog played at least once).")
    tab = _frame_table(ev.exposure, {"users": "{:,}".format, "plays": "{:,}".format, "coverage": _share,
                                     "long_tail_share": _share, "homogenization": lambda x: dash(num(x, 3))},
                       {"long_tail_share": "long-tail share", "homogenization": "homogenisation"})
    return ("<section id='exposure'><h2>Catalog exposure: who gets seen</h2>" + tab + f
            + "<p class='small muted'>Fairness of exposure: a recommender that concentrates plays on few titles "
              "(lower coverage and long-tail share) narrows what the catalog earns and what users discover, even "
              "when clicks rise. Homogenisation: the mean Jaccard similarity of two users' sets of watched titles "
              "(on a sample of users); higher means the arm makes its users watch more alike.</p></section>")


def section_preview(previews: Mapping[str, str] | None) -> str:
    if not previews:
        return ""
    cards = "".join(f"<div class='preview'><h3>{_e(seg)}</h3>{frag}</div>" for seg, frag in previews.items())
    arms = sorted({label.split(" \u00b7 ")[-1] for label in previews})
    return (f"<section id='preview'><h2>What users see</h2><p class='small muted'>One active user's homepage per "
            f"segment in each arm ({_e(', '.join(arms))}), as that arm builds it on the day after the experiment."
            f"</p><div class='previews'>{cards}</div></section>")


def section_methods(a: dict, config_toml: str | None, warmup_days: int | None) -> str:
    rows = [r for r in a["results"] if r["segment"] == "all"]
    vr = [r for r in rows if r.get("variance_reduction") is not None]
    vr_tab = "".join(f"<tr><td>{_e(r['metric'])}</td><td class='l'>{_e(r.get('covariate', ''))}</td>"
                     f"<td class='num'>{_share(r['variance_reduction'])}</td></tr>" for r in vr)
    boot = a.get("bootstrap") or {}
    boot_txt = "; ".join(f"{_e(m)}: {b['replicates']:,} replicates, seed {b['seed']}, up to {b['max_units']:,} "
                         "resampling units (users hashed into buckets beyond that)" for m, b in boot.items())
    lv = a.get("levels") or {}
    alpha = a["alpha"]
    g_alpha, d_alpha = lv.get("guardrail_alpha", 0.05), lv.get("deterioration_alpha", alpha / 2)
    q_alpha = lv.get("quality_alpha", 0.001)
    correction = {"holm": "Holm's step-down procedure (the family-wise error rate)",
                  "bh": "Benjamini-Hochberg (the false discovery rate)",
                  "none": "no correction"}.get(a.get("correction"), a.get("correction"))
    roles = a.get("roles") or {}
    n_success = len(roles.get("success", [])) * max(len(a.get("arms", [])) - 1, 1)
    pre = f" ({warmup_days} warm-up days before assignment)" if warmup_days else ""
    seq = a.get("sequential") or []
    seq_txt = ""
    if seq:
        seq_txt = f"""<dt>Always-valid daily monitor</dt><dd>Each day the per-user table of the fixed cohort is rebuilt
from the logs up to that day and the decision's metrics are tested with a normal-mixture sequential probability ratio
test (mSPRT; no CUPED). The estimand of day d is the effect accumulated up to day d, so each day's interval is that
day's own always-valid interval (it is not intersected with earlier days', which estimated something else). Success
metrics: always-valid p at {alpha:g} / (success metrics × arms); guardrails: non-inferiority of the contrast
treatment − (1 + margin) × control at {g_alpha:g}; deterioration at {d_alpha:g}; the day's verdict applies the rule
below to those. The mixing variance τ² is fixed at the first look (tuned to its variance), never from later data.</dd>"""
    long_txt = ""
    if a.get("survival"):
        long_txt += """<dt>Retention as survival</dt><dd>Each user's days from assignment to the day the account lapsed,
or to the end of the experiment (censored). Kaplan-Meier curves with Greenwood's variance and log-log intervals; the
log-rank test; the hazard ratio from a Cox proportional-hazards model of the arm (Efron's handling of tied days, Wald
interval and p). Computed on per-day life tables; checked against statsmodels to 5 decimals. The metric
<code>churn_hazard</code> reports the hazard ratio − 1 as its relative lift and each arm's Kaplan-Meier churn by the
end as its values; as a guardrail, its margin bounds the hazard ratio.</dd>"""
    if (a.get("decay") or {}).get("tests"):
        long_txt += """<dt>Novelty and decay</dt><dd>Effects are indexed by the day since each user's first exposure
(their first visit after assignment), not by calendar day. On the users observed through the whole late window, the
early and late windows' lifts are compared by the difference of their log ratios, with a delta-method variance from
each user's sums in both windows (so one user's two windows are not treated as independent). The late window's lift
is the steady-state estimate: it assumes the transient is over by then.</dd>"""
    return f"""<section id='methods'><h2>Methods</h2><dl class='methods'>
<dt>Unit of analysis</dt><dd>The user. Each user is randomised to one arm for the whole experiment, and every metric
is computed from per-user totals ({a.get('n_users', 0):,} users). Testing at the impression level would treat a heavy
user's many impressions as independent and understate the variance.</dd>
<dt>Means (watch minutes, sessions, time to first play)</dt><dd>Welch's t-test on per-user values: no equal-variance
assumption, Welch-Satterthwaite degrees of freedom.</dd>
<dt>Ratio metrics (CTR, play rate, completion rate, regret ratio)</dt><dd>A ratio of sums per arm (e.g. all clicks /
all impressions). Its variance comes from the delta method on the per-user covariance of numerator and denominator,
so users, not impressions, are the independent units; normal interval and p-value.</dd>
<dt>Churn rate</dt><dd>Two-proportion Wald z-test: one unpooled standard error for the p-value and the interval, so
they never disagree.</dd>
<dt>Relative lift</dt><dd>(treatment − control) / control, with Fieller's interval for the ratio of the two arms'
estimates: the ratios r for which treatment − r × control is not significant. It excludes 0 exactly when the test of
the difference is significant, and keeps honest tails for small rates (churn near 4%), where a symmetric interval
misses more often on one side.</dd>
<dt>CUPED</dt><dd>Where a pre-period covariate exists{pre}, the difference is adjusted: (Y<sub>t</sub> − Y<sub>c</sub>)
− θ (X<sub>t</sub> − X<sub>c</sub>), with θ pooled over both arms. Only pre_* columns are accepted as covariates.
Randomisation makes X<sub>t</sub> − X<sub>c</sub> zero on average, so this removes noise without bias. The control
and treatment columns stay raw; difference, lift and p-value are adjusted. Variance removed:
<table style='width:auto'><tr><th>metric</th><th class='l'>covariate</th><th>variance removed</th></tr>
{vr_tab}</table></dd>
<dt>Composite: engagement efficiency</dt><dd>play rate × completion rate / time to first play has no closed-form
variance, so it is bootstrapped: a seeded Poisson bootstrap over users, normal interval from the bootstrap variance.
{boot_txt}.</dd>
<dt>Roles and the decision rule</dt><dd>The rule of Schultzberg, Ankargren and Frånberg (2024), as Spotify's
Confidence applies it. Success metrics ({', '.join(map(_e, roles.get('success', [])))}): two-sided superiority tests
at {alpha:g}, corrected with {correction} across the {n_success} success comparisons only. Guardrails: one-sided
non-inferiority tests against their margins at {g_alpha:g}, uncorrected: shipping needs every one of them to pass (an
intersection-union test), so they cannot raise the chance of a false ship and do not dilute the success metrics'
alpha. Every success metric and guardrail is also tested for deterioration, a significant move the wrong way
(one-sided, {d_alpha:g}). Secondary and strategic metrics and the segment breakdown get Benjamini-Hochberg q-values
and are labelled descriptive. <b>Ship</b>: a success metric significantly better, every guardrail non-inferior,
nothing harmed, quality checks passed. <b>No-ship</b>: something harmed, or a success metric significantly worse.
<b>Inconclusive</b>: not enough evidence either way (the verdict names what is missing). <b>Investigate</b>: a quality
check failed. A guardrail that is not shown non-inferior is <i>inconclusive</i>, not harmed: "not shown safe" is not
"shown unsafe".</dd>
<dt>Quality checks</dt><dd>Sample ratio: Pearson's chi-squared test of the arms' user counts against the configured
split; pre-period balance: Welch's test of each pre_* covariate between arms, Bonferroni-adjusted. Both fire at
p &lt; {q_alpha:g}; then the verdict, and every arm's, is "investigate".</dd>
<dt>Heterogeneity</dt><dd>Cochran's Q on the per-segment relative lifts (inverse-variance weighted; segments are
disjoint, hence independent) with I², the share of between-segment spread beyond chance.</dd>
{seq_txt}
{long_txt}
</dl>
{"<details><summary>Experiment configuration</summary><pre>" + _e(config_toml) + "</pre></details>" if config_toml else ""}
</section>"""


def render_report(a: dict, *, evidence=None, previews: Mapping[str, str] | None = None, title: str = "A/B report",
                  subtitle: str = "", config_toml: str | None = None, days: int | None = None,
                  warmup_days: int | None = None) -> str:
    """The report as one HTML string.

    ``a`` is the analysis JSON (with its ``decision``; ``sequential`` when monitored);
    ``evidence`` a :class:`recsys.jobs.Evidence` from a run (daily curves, offline metrics,
    exposure: those sections are left out without it); ``previews`` {label: HTML fragment of a
    homepage}; ``config_toml`` the configuration shown under Methods.
    """
    prim = (a["decision"].get("roles") or {}).get("primary", "")
    cards = [("users assigned", f"{a.get('n_users', 0):,}")] + ([("days", str(days))] if days else []) + [
        ("arms", " vs ".join(a["arms"][1:]) + f" vs {a['control']} (control)"), ("primary metric", prim)]
    parts = [section_verdict(a, cards), section_tradeoffs(a), section_lifts(a), section_survival(a), section_decay(a),
             section_longterm(a),
             section_daily(evidence) if evidence is not None else "", section_sequential(a), section_samples(a),
             section_offline(evidence) if evidence is not None else "",
             section_exposure(evidence) if evidence is not None else "", section_preview(previews),
             section_methods(a, config_toml, warmup_days)]
    shown = {k for k, _ in SECTIONS if any(f"<section id='{k}'>" in p for p in parts)}
    nav = "".join(f"<a href='#{k}'>{_e(t)}</a>" for k, t in SECTIONS if k in shown)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{_e(title)}: A/B report</title><style>{CSS}</style></head><body><main>"
            f"<h1>{_e(title)}</h1><p class='sub'>{_e(subtitle)}</p><nav>{nav}</nav>"
            + "".join(parts) + "</main></body></html>")


def render_job_report(job, evidence) -> str:
    """The report of a finished :class:`recsys.jobs.JobOutput` with the
    :class:`~recsys.jobs.Evidence` the job gathered (:func:`recsys.jobs.gather_evidence`)."""
    from recsys.report.preview import segment_fragments

    cfg = job.result.config
    a = job.json
    ev = evidence
    previews = segment_fragments(job.result.world.catalog, ev.homepages) if ev.homepages else None
    sub = (f"{a.get('n_users', 0):,} users assigned (of {cfg.users:,} in the world; users whose account lapsed during "
           f"the warm-up are not assigned) · {cfg.days} days · {' vs '.join(x.name for x in cfg.arms)} · "
           f"seed {cfg.seed}")
    return render_report(a, evidence=ev, previews=previews, title=cfg.name, subtitle=sub, config_toml=cfg.to_toml(),
                         days=cfg.days, warmup_days=cfg.warmup_days)
