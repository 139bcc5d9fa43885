"""The demo's HTML report: verdict first, then the trade-offs, charts and methods.

It renders what it is given (the analysis dict, per-arm summaries, logs); it computes no
statistics of its own, only descriptive daily aggregates for the curves.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from recsys.report.charts import daily_curves, forest_plot

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1000px;color:#1f2328;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
.verdict{padding:1rem 1.2rem;border-radius:8px;font-size:1.1rem}
.ship{background:#dafbe1;border:1px solid #1a7f37}.no-ship{background:#ffebe9;border:1px solid #cf222e}
.investigate{background:#fff8c5;border:1px solid #9a6700}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{padding:.3rem .6rem;border-bottom:1px solid #eaeef2;text-align:right}
th:first-child,td:first-child{text-align:left}.sig{font-weight:600}.muted{color:#6e7781}
img.chart{max-width:100%;border:1px solid #eaeef2;border-radius:6px;margin:.3rem}
"""


def _fmt(x, pct=False):
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{100 * x:+.2f}%" if pct else f"{x:.4g}"


def _tradeoff_rows(analysis: dict) -> str:
    guards = analysis.get("decision", {}).get("roles", {}).get("guardrails", {})
    out = []
    for r in analysis["results"]:
        if r["segment"] != "all":
            continue
        status = ""
        if r["metric"] in guards:
            status = "guardrail"
        cls = "sig" if r["significant"] else ""
        out.append(
            f"<tr class='{cls}'><td>{html.escape(r['metric'])}</td><td>{html.escape(r['arm'])}</td>"
            f"<td>{_fmt(r['control'])}</td><td>{_fmt(r['treatment'])}</td>"
            f"<td>{_fmt(r['rel_lift'], True)} [{_fmt(r['rel_ci_low'], True)}, {_fmt(r['rel_ci_high'], True)}]</td>"
            f"<td>{r['p_adjusted']:.3g}</td><td>{html.escape(r['method'])}</td><td>{status}</td></tr>")
    return "".join(out)


def _daily(job) -> pd.DataFrame:
    table = job.result.table
    arm_of = table.set_index("user_id")["arm"]
    s = job.result.logs.sessions
    p = job.result.logs.plays
    s = s.assign(arm=arm_of.reindex(s["user_id"]).to_numpy())
    p = p.assign(arm=arm_of.reindex(p["user_id"]).to_numpy())
    d = s.groupby(["arm", "day"]).agg(impressions=("impressions", "sum"), clicks=("clicks", "sum")).reset_index()
    d["ctr"] = d["clicks"] / d["impressions"]
    users = table.groupby("arm").size()
    w = p.groupby(["arm", "day"])["minutes"].sum().reset_index()
    d = d.merge(w, on=["arm", "day"], how="left")
    d["watch_min_per_user"] = d["minutes"] / users.reindex(d["arm"]).to_numpy()
    churn = job.result.table.assign(cd=np.concatenate([s_.churn_day for s_ in []]) if False else None)
    del churn
    return d


def render_demo_report(job) -> str:
    a = job.analysis
    dec = a["decision"]
    verdict = dec["verdict"]
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in dec["reasons"])
    cfg = job.result.config
    daily = _daily(job)
    charts = [
        forest_plot([r for r in a["results"] if r["segment"] == "all"], "Lift per metric (all users)"),
        forest_plot([r for r in a["results"] if r["metric"] == cfg.metrics.primary],
                    f"Lift in {cfg.metrics.primary} per segment"),
        daily_curves(daily, "ctr", "Daily CTR per arm", "CTR"),
        daily_curves(daily, "watch_min_per_user", "Daily watch minutes per user", "minutes"),
    ]
    imgs = "".join(f"<img class='chart' alt='chart' src='{c}'>" for c in charts)
    summary = job.summary.to_html(float_format=lambda x: f"{x:.4g}", border=0)
    srm = a["srm"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>recsys demo: {html.escape(cfg.name)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(cfg.name)}</h1>
<div class="verdict {verdict}"><b>Verdict: {verdict.upper()}</b><ul>{reasons}</ul></div>
<h2>Trade-offs</h2>
<table><tr><th>metric</th><th>arm</th><th>control</th><th>treatment</th><th>relative lift [95% CI]</th><th>p (adj.)</th><th>method</th><th>role</th></tr>
{_tradeoff_rows(a)}</table>
<h2>Charts</h2>{imgs}
<h2>Arms</h2>{summary}
<p class="muted">Sample-ratio check: p = {srm['p_value']:.3g} ({'ok' if srm['ok'] else 'MISMATCH'}); users per arm {srm['counts']}.</p>
<h2>Methods</h2>
<p>The user is the unit of analysis. Means use Welch's t-test; ratio metrics (CTR, completion rate, regret ratio,
play rate) use the delta method on per-user sums; with pre-experiment covariates, CUPED reduces variance.
p-values are adjusted across arms, metrics and segments ({html.escape(a['correction'])}). {cfg.users} users,
{cfg.days} days, seed {cfg.seed}.</p>
</body></html>"""
